"""Metrics and logs: what operators see, and what they must never see."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.ops.logs import JsonFormatter, RedactingFilter
from app.session.tickets import mint_ticket
from sandbox import seed
from sandbox.app import create_sandbox_app, set_public_url
from tests.support.servers import serve
from tests.support.settings import MANAGEMENT_TOKEN, TICKET_SECRET, make_settings

METRICS_TOKEN = "Mt5Qw8Zr2Lp6Xv9Kb3Nc7Hd1Fj4Gs0Ua6Ie2Io8Pw5R"
ORIGIN = {"X-CSRF": "1", "Origin": "https://bff.test"}
API = "/api/v4/calendar-connections"


def _ticket(sub: str, meetergo_user_id: str | None = seed.ALICE_ID) -> str:
    return mint_ticket(
        key=TICKET_SECRET,
        algorithm="HS256",
        audience="meetergo-calendar-bff",
        sub=sub,
        meetergo_user_id=meetergo_user_id,
        name="Alice",
    )


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    app = create_sandbox_app()
    with serve(app) as server:
        set_public_url(app, server.url)
        yield server.url


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged, at every level, as the service writes it in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _scrape(client: TestClient) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_metrics_need_their_own_token() -> None:
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        assert client.get("/metrics").status_code == 404
    app = create_app(make_settings(metrics_token=METRICS_TOKEN))
    with TestClient(app, base_url="https://bff.test") as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"})
        assert wrong.status_code == 401
        assert "bff_http_requests_total" in _scrape(client)


def test_metrics_count_requests_by_route_template_upstream_calls_and_sessions(
    sandbox_url: str,
) -> None:
    app = create_app(make_settings(metrics_token=METRICS_TOKEN, meetergo_base_url=sandbox_url))
    with TestClient(app, base_url="https://bff.test") as client:
        assert client.post("/auth/session", json={"ticket": _ticket("alice")}, headers=ORIGIN)
        assert client.get(f"{API}/connections", headers=ORIGIN).status_code == 200
        missing = client.get(f"{API}/connections/no-such-id/calendars", headers=ORIGIN)
        assert missing.status_code == 404
        assert client.get(f"{API}/connections").status_code == 403  # no X-CSRF
        assert client.post("/auth/logout", headers=ORIGIN).status_code == 204
        text = _scrape(client)
    assert (
        'bff_http_requests_total{method="GET",route="/api/v4/calendar-connections/'
        'connections/{connectionId}/calendars",status="404"} 1.0'
    ) in text
    assert "no-such-id" not in text, "raw paths must not become labels"
    assert 'bff_upstream_requests_total{operation="listConnections",outcome="200"} 1.0' in text
    assert 'bff_upstream_requests_total{operation="listCalendars",outcome="404"} 1.0' in text
    assert 'bff_problems_total{code="csrf_failed",status="403"} 1.0' in text
    assert 'bff_problems_total{code="not_found",status="404"} 1.0' in text
    assert "bff_sessions_started_total 1.0" in text
    assert 'bff_sessions_revoked_total{scope="session"} 1.0' in text
    assert "bff_upstream_request_duration_seconds_bucket" in text


def test_access_log_is_json_with_request_id_route_status_latency_and_hashed_user(
    sandbox_url: str, captured_logs: io.StringIO
) -> None:
    app = create_app(make_settings(meetergo_base_url=sandbox_url))
    with TestClient(app, base_url="https://bff.test") as client:
        client.post("/auth/session", json={"ticket": _ticket("alice@example.com")}, headers=ORIGIN)
        client.get(f"{API}/connections", headers={**ORIGIN, "X-Request-ID": "trace-access-0001"})
    records = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    access = [
        r
        for r in records
        if r["logger"] == "app.access" and r.get("requestId") == "trace-access-0001"
    ]
    assert len(access) == 1
    entry = access[0]
    assert entry["route"] == "/api/v4/calendar-connections/connections"
    assert entry["status"] == 200
    assert entry["method"] == "GET"
    assert isinstance(entry["latencyMs"], float)
    assert len(entry["user"]) == 24
    assert "alice@example.com" not in captured_logs.getvalue()


def test_redacting_filter_removes_configured_secrets_from_any_message() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(make_settings().secret_values()))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.error("oops %s", make_settings().meetergo_api_key.get_secret_value())
    finally:
        logger.removeHandler(handler)
    assert "[redacted]" in stream.getvalue()
    assert "sandbox-member-secret" not in stream.getvalue()


def test_a_full_run_of_traffic_logs_no_key_cookie_or_ticket(
    sandbox_url: str, captured_logs: io.StringIO
) -> None:
    settings = make_settings(meetergo_base_url=sandbox_url, management_token=MANAGEMENT_TOKEN)
    seen_secrets: list[str] = list(settings.secret_values())
    app = create_app(settings)
    with TestClient(app, base_url="https://bff.test") as client:
        for user, meetergo_id in (
            ("alice", seed.ALICE_ID),
            ("dave", None),
            ("ghost", seed.MALLORY_ID),
        ):
            ticket = _ticket(user, meetergo_id)
            seen_secrets.append(ticket)
            client.post("/auth/session", json={"ticket": ticket}, headers=ORIGIN)
            client.post("/auth/session", json={"ticket": ticket}, headers=ORIGIN)  # replayed
            seen_secrets += [value for value in client.cookies.values() if len(value) > 20]
            client.get(f"{API}/connections", headers=ORIGIN)
            client.get(f"{API}/auth/google/url", headers=ORIGIN)
            client.patch(
                f"{API}/connections/nope", json={"validateAvailability": True}, headers=ORIGIN
            )
            client.get(f"{API}/connections", headers={**ORIGIN, "X-CSRF": "0"})
            client.post("/auth/session", json={"ticket": ticket + "x"}, headers=ORIGIN)
            client.post("/auth/logout", headers=ORIGIN)
        client.post(
            "/manage/users/alice/revoke-sessions",
            headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
        )
        client.post("/manage/users/alice/revoke-sessions", headers={"Authorization": "Bearer nope"})
        httpx.put(f"{sandbox_url}/_sandbox/faults", json={"error_rate": 1, "error_statuses": [502]})
        client.post("/auth/session", json={"ticket": _ticket("alice")}, headers=ORIGIN)
        client.get(f"{API}/connections", headers=ORIGIN)
    logs = captured_logs.getvalue()
    assert logs.count("\n") > 30, "the run must have produced a real amount of logging"
    for secret in seen_secrets:
        assert secret not in logs, f"a secret of {len(secret)} characters reached the logs"
