"""The JS build at a stable URL (revalidated) and an immutable one; demo pages in demo mode only."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.main import create_app
from app.static_files import SDK_BUILD_DIR, sdk_build_hash
from tests.support.settings import make_settings

SDK_FILES = ["calendar.js", "calendar.d.ts", "settings-element.js", "i18n/de.js"]


def test_js_client_and_its_types_are_served_with_safe_headers() -> None:
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        module = client.get("/sdk/v1/calendar.js")
        types = client.get("/sdk/v1/calendar.d.ts")
        element = client.get("/sdk/v1/settings-element.js")
    assert module.status_code == 200
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert module.headers["x-content-type-options"] == "nosniff"
    assert "export function createCalendarClient" in module.text
    assert "export class CalendarError" in module.text
    assert types.status_code == 200
    assert "export declare function createCalendarClient" in types.text
    assert element.status_code == 200
    assert "customElements.define" in element.text


def test_the_stable_url_is_revalidated_with_an_etag_never_cached_blind() -> None:
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        first = client.get("/sdk/v1/calendar.js")
        etag = first.headers["etag"]
        again = client.get("/sdk/v1/calendar.js", headers={"If-None-Match": etag})
    assert first.headers["cache-control"] == "no-cache"
    assert "max-age" not in first.headers["cache-control"]
    assert again.status_code == 304
    assert first.headers["content-location"] == f"/sdk/{sdk_build_hash()}/calendar.js"


def test_every_file_is_also_served_forever_under_the_builds_content_hash() -> None:
    build = sdk_build_hash()
    assert re.fullmatch(r"[0-9a-f]{16}", build)
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        for name in SDK_FILES:
            stable = client.get(f"/sdk/v1/{name}")
            pinned = client.get(f"/sdk/{build}/{name}")
            assert pinned.status_code == 200, name
            assert pinned.content == stable.content == (SDK_BUILD_DIR / name).read_bytes()
            assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert client.get("/sdk/0123456789abcdef/calendar.js").status_code == 404
        assert client.get("/sdk/v1/").status_code == 404


def test_the_content_hash_changes_with_any_file(tmp_path: object) -> None:
    from pathlib import Path  # noqa: PLC0415

    root = Path(str(tmp_path))
    (root / "i18n").mkdir()
    (root / "a.js").write_text("export const a = 1;\n")
    (root / "i18n" / "de.js").write_text("export default {};\n")
    before = sdk_build_hash(root)
    (root / "i18n" / "de.js").write_text('export default {"x": "y"};\n')
    assert sdk_build_hash(root) != before


def test_static_paths_cannot_escape_their_folder() -> None:
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        assert client.get("/sdk/../config.py").status_code == 404
        # An encoded dot segment is refused before routing (invalid_path), a plain one is 404.
        assert client.get("/sdk/%2e%2e/config.py").status_code in (400, 404)
        assert client.get("/sdk/v1/../../../config.py").status_code == 404
        hashed = f"/sdk/{sdk_build_hash()}/%2e%2e/%2e%2e/config.py"
        assert client.get(hashed).status_code in (400, 404)


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
