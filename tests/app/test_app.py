"""The application shell: health, readiness, request ids and problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.errors import CATALOG, PROBLEM_JSON, ErrorCode, ProblemError
from app.main import create_app
from app.upstream.client import UpstreamTransport
from tests.support.settings import API_KEY, SESSION_KEY, make_settings


def build() -> FastAPI:
    app = create_app(make_settings())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"internal detail with the key {API_KEY}")

    @app.get("/problem")
    async def problem() -> None:
        raise ProblemError(ErrorCode.NOT_FOUND, "That connection is gone.")

    @app.get("/typed/{number}")
    async def typed(number: int) -> dict[str, int]:
        return {"number": number}

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(build(), base_url="https://bff.test", raise_server_exceptions=False) as c:
        yield c


def test_liveness_touches_nothing_and_is_not_cached(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_readiness_reports_valid_configuration(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"configuration": "ok", "upstream_pool": "ok", "upstream_credential": "ok"},
    }


def test_readiness_fails_when_a_check_fails_or_raises(client: TestClient) -> None:
    async def failing() -> bool:
        return False

    async def raising() -> bool:
        raise ConnectionError("redis down")

    readiness = client.app.state.readiness  # type: ignore[attr-defined]
    readiness.checks.update({"redis": failing, "other": raising})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "configuration": "ok",
        "upstream_pool": "ok",
        "redis": "failing",
        "other": "failing",
        "upstream_credential": "ok",
    }


def test_readiness_turns_false_when_shutdown_begins(client: TestClient) -> None:
    client.app.state.readiness.shutting_down = True  # type: ignore[attr-defined]
    assert client.get("/readyz").status_code == 503


def test_lifespan_owns_one_shared_upstream_client_with_explicit_limits() -> None:
    app = create_app(make_settings(upstream_read_timeout=7.5, upstream_max_connections=9))
    with TestClient(app, base_url="https://bff.test"):
        upstream: httpx.AsyncClient = app.state.upstream
        assert upstream.timeout == httpx.Timeout(connect=3.0, read=7.5, write=10.0, pool=3.0)
        assert str(upstream.base_url) == "https://api.meetergo.com"
        assert upstream.follow_redirects is False
        assert "authorization" not in upstream.headers
        transport = upstream._transport  # type: ignore[attr-defined]
        assert isinstance(transport, UpstreamTransport)  # aiohttp's pool under httpx's API
        assert transport.limits.max_connections == 9
        assert transport.limits.keepalive_expiry == 4.0
    assert upstream.is_closed


def test_well_formed_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "trace-0123456789abcdef"})
    assert response.headers["x-request-id"] == "trace-0123456789abcdef"


@pytest.mark.parametrize(
    "bad", ["short", "has space in it", "x" * 129, "évilévilévil", "<script>xx"]
)
def test_malformed_request_id_is_replaced(client: TestClient, bad: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": bad.encode("utf-8")})  # type: ignore[dict-item]
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    response = client.get("/nope", headers={"X-Request-ID": "req-unknown-route"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["code"] == "not_found"
    assert body["requestId"] == "req-unknown-route"
    assert body["type"] == "urn:meetergo-bff:problem:not_found"


def test_wrong_method_is_problem_json(client: TestClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET"


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    response = client.get("/typed/<script>alert(1)<script>")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "<script>" not in response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["location"] == "path.number"


def test_raised_problem_keeps_its_code_and_detail(client: TestClient) -> None:
    response = client.get("/problem")
    assert response.status_code == 404
    assert response.json()["detail"] == "That connection is gone."


def test_unexpected_error_is_a_bare_500_without_trace_or_secret(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/boom", headers={"X-Request-ID": "req-boom-0001"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["x-request-id"] == "req-boom-0001"
    assert response.json() == {
        "type": "urn:meetergo-bff:problem:internal_error",
        "title": "Internal error",
        "status": 500,
        "code": "internal_error",
        "requestId": "req-boom-0001",
    }
    assert API_KEY not in response.text
    assert any("req-boom-0001" in record.getMessage() for record in caplog.records)


def test_every_catalogued_code_is_an_error_status() -> None:
    for code, spec in CATALOG.items():
        assert 400 <= spec.status < 600, code
    assert set(CATALOG) == set(ErrorCode)


def test_secrets_are_not_in_the_settings_repr() -> None:
    text = repr(make_settings())
    assert API_KEY not in text
    assert SESSION_KEY not in text
