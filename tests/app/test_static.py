"""The JS client is served at a stable, versioned path; demo pages only in demo mode."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from tests.support.settings import make_settings


def test_js_client_and_its_types_are_served_with_safe_headers() -> None:
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        module = client.get("/sdk/v1/calendar.js")
        types = client.get("/sdk/v1/calendar.d.ts")
    assert module.status_code == 200
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert module.headers["x-content-type-options"] == "nosniff"
    assert "export function createCalendarClient" in module.text
    assert "export class CalendarError" in module.text
    assert types.status_code == 200
    assert "export declare function createCalendarClient" in types.text


def test_static_paths_cannot_escape_their_folder() -> None:
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        assert client.get("/sdk/../config.py").status_code == 404
        assert client.get("/sdk/%2e%2e/config.py").status_code in (400, 404)


def test_demo_pages_exist_only_in_demo_mode() -> None:
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        assert client.get("/demo/").status_code == 404
        assert client.post("/demo/tickets/alice").status_code == 404
    demo = make_settings(environment="development", demo=True, public_url="http://localhost:8000")
    with TestClient(create_app(demo), base_url="http://localhost:8000") as client:
        page = client.get("/demo/")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/", follow_redirects=False).headers["location"] == "/demo/"
        ticket = client.post("/demo/tickets/alice")
        assert ticket.status_code == 200
        assert ticket.json()["user"] == "alice"
