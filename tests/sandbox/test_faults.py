"""Faults on API requests, set at start (settings) or at run time (PUT /_sandbox/faults)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.sandbox.support import CONNECTIONS, Sandbox, StartSandbox, auth_url_path, nest

FAULT_DEFAULTS = {
    "latency_ms": None,
    "error_rate": None,
    "error_statuses": [500, 502, 503],
    "hang": False,
    "hang_seconds": 3600.0,
    "malformed_json": False,
    "reset": False,
    "rate_limited": False,
    "retry_after": None,
    "times": None,
    "paths": None,
    "consent_server_error": False,
    "consent_coop": False,
}

set_by = pytest.mark.parametrize("how", ["settings", "admin"])


def with_faults(how: str, start_sandbox: StartSandbox, sandbox: Sandbox, **faults: Any) -> Sandbox:
    """A sandbox with these faults, set at start or through the admin endpoint."""
    if how == "settings":
        return start_sandbox(faults=faults)
    response = sandbox.client().put("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text
    return sandbox


@set_by
def test_latency_delays_the_answer(how: str, start_sandbox: StartSandbox, sandbox: Sandbox) -> None:
    target = with_faults(how, start_sandbox, sandbox, latency_ms=300)
    api = target.api()
    started = time.monotonic()
    response = api.get(CONNECTIONS)
    assert time.monotonic() - started >= 0.3
    assert response.json() == {"connections": [], "total": 0}


@set_by
@pytest.mark.parametrize(
    "expected",
    [
        nest(500, "Internal server error", "Internal Server Error"),
        nest(502, "Bad Gateway", "Bad Gateway"),
        nest(503, "Service Unavailable", "Service Unavailable"),
        nest(504, "Gateway Timeout", "Gateway Timeout"),
    ],
    ids=["500", "502", "503", "504"],
)
def test_error_rate_one_answers_the_chosen_status_with_a_nest_body(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox, expected: dict[str, object]
) -> None:
    status = expected["statusCode"]
    target = with_faults(how, start_sandbox, sandbox, error_rate=1, error_statuses=[status])
    response = target.api().get(CONNECTIONS)
    assert response.status_code == status
    assert response.json() == expected


@set_by
def test_error_rate_draws_from_the_default_statuses(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(how, start_sandbox, sandbox, error_rate=1)
    api = target.api()
    statuses = {api.get(CONNECTIONS).status_code for _ in range(30)}
    assert statuses == {500, 502, 503}


def statuses_of(sandbox: Sandbox, count: int = 40) -> list[int]:
    api = sandbox.api()
    return [api.get(CONNECTIONS).status_code for _ in range(count)]


def test_a_partial_error_rate_is_reproducible_from_the_seed(start_sandbox: StartSandbox) -> None:
    faults = {"error_rate": 0.5}
    first = statuses_of(start_sandbox(faults=faults, random_seed=7))
    second = statuses_of(start_sandbox(faults=faults, random_seed=7))
    other_seed = statuses_of(start_sandbox(faults=faults, random_seed=8))
    assert first == second
    assert first != other_seed
    assert 200 in first
    assert set(first) - {200} <= {500, 502, 503}
    assert 10 <= first.count(200) <= 30


def test_reset_replays_the_same_error_sequence(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(faults={"error_rate": 0.5})
    first = statuses_of(sandbox, 20)
    sandbox.client().post("/_sandbox/reset")
    assert statuses_of(sandbox, 20) == first


@set_by
def test_hang_keeps_the_client_waiting(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(how, start_sandbox, sandbox, hang=True)
    api = target.api(timeout=httpx.Timeout(5, read=0.3))
    with pytest.raises(httpx.ReadTimeout):
        api.get(CONNECTIONS)


@set_by
def test_hang_answers_normally_after_hang_seconds(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(how, start_sandbox, sandbox, hang=True, hang_seconds=0.3)
    started = time.monotonic()
    response = target.api().get(CONNECTIONS)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


@set_by
def test_malformed_json_answers_200_with_a_truncated_json_body(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(how, start_sandbox, sandbox, malformed_json=True)
    response = target.api().get(CONNECTIONS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.content.startswith(b"{")
    with pytest.raises(ValueError, match=r"."):
        response.json()


@set_by
def test_reset_cuts_the_connection_without_any_response(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(how, start_sandbox, sandbox, reset=True)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        target.api().get(CONNECTIONS)
    log = target.client().get("/_sandbox/requests", params={"path_prefix": "/v4"}).json()
    assert [entry["path"] for entry in log] == [CONNECTIONS]


def test_reset_is_a_tcp_reset_not_a_clean_close(sandbox: Sandbox) -> None:
    sandbox.client().put("/_sandbox/faults", json={"reset": True})
    with pytest.raises(httpx.ReadError) as caught:
        sandbox.api().get(CONNECTIONS)
    assert "reset" in str(caught.value).lower()


@set_by
def test_rate_limited_forces_a_429_without_retry_after(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(how, start_sandbox, sandbox, rate_limited=True)
    response = target.api().get(CONNECTIONS)
    assert response.status_code == 429
    assert response.json() == nest(429, "Too Many Requests", "Too Many Requests")
    assert "retry-after" not in response.headers


@set_by
def test_rate_limited_with_retry_after_sends_the_header(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(how, start_sandbox, sandbox, rate_limited=True, retry_after=7)
    response = target.api().get(CONNECTIONS)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


@set_by
def test_times_limits_the_faults_to_that_many_requests(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(
        how, start_sandbox, sandbox, error_rate=1, error_statuses=[503], times=2, consent_coop=True
    )
    api = target.api()
    assert [api.get(CONNECTIONS).status_code for _ in range(2)] == [503, 503]
    remaining = target.client().get("/_sandbox/faults").json()
    assert remaining == {**FAULT_DEFAULTS, "consent_coop": True}
    assert [api.get(CONNECTIONS).status_code for _ in range(2)] == [200, 200]


def test_times_counts_down_in_the_faults_view(sandbox: Sandbox) -> None:
    admin = sandbox.client()
    admin.put("/_sandbox/faults", json={"rate_limited": True, "times": 3})
    sandbox.api().get(CONNECTIONS)
    assert admin.get("/_sandbox/faults").json()["times"] == 2


@set_by
def test_paths_limits_the_faults_to_matching_api_paths(
    how: str, start_sandbox: StartSandbox, sandbox: Sandbox
) -> None:
    target = with_faults(
        how, start_sandbox, sandbox, error_rate=1, error_statuses=[502], paths=["/auth/"]
    )
    api = target.api()
    assert api.get(CONNECTIONS).status_code == 200
    assert api.get(auth_url_path("google")).status_code == 502


def test_faults_apply_to_every_api_path_by_default(sandbox: Sandbox) -> None:
    sandbox.client().put("/_sandbox/faults", json={"error_rate": 1, "error_statuses": [503]})
    api = sandbox.api()
    for method, path in [
        ("GET", CONNECTIONS),
        ("GET", auth_url_path("google")),
        ("PATCH", f"{CONNECTIONS}/x"),
        ("DELETE", f"{CONNECTIONS}/x"),
        ("POST", f"{CONNECTIONS}/x/set-primary"),
        ("GET", "/v4/anything-else"),
    ]:
        assert api.request(method, path).status_code == 503, path


def test_faults_strike_before_authentication(sandbox: Sandbox) -> None:
    sandbox.client().put("/_sandbox/faults", json={"rate_limited": True})
    assert sandbox.api(key=None).get(CONNECTIONS).status_code == 429


def test_faults_never_touch_consent_admin_or_health(sandbox: Sandbox) -> None:
    auth_url, _ = sandbox.auth_url(sandbox.api())
    admin = sandbox.client()
    admin.put("/_sandbox/faults", json={"error_rate": 1, "reset": True, "hang": True})
    assert admin.get("/healthz").status_code == 200
    assert admin.get("/_sandbox/seed").status_code == 200
    assert admin.get(auth_url).status_code == 200
    assert admin.delete("/_sandbox/faults").status_code == 204
    assert sandbox.api().get(CONNECTIONS).status_code == 200


def test_the_faults_view_shows_every_field_with_its_default(sandbox: Sandbox) -> None:
    assert sandbox.client().get("/_sandbox/faults").json() == FAULT_DEFAULTS


def test_put_replaces_the_faults_and_delete_clears_them(sandbox: Sandbox) -> None:
    admin = sandbox.client()
    first = admin.put("/_sandbox/faults", json={"latency_ms": 5, "paths": ["/connections"]})
    assert first.json() == {**FAULT_DEFAULTS, "latency_ms": 5, "paths": ["/connections"]}
    second = admin.put("/_sandbox/faults", json={"malformed_json": True})
    assert second.json() == {**FAULT_DEFAULTS, "malformed_json": True}
    cleared = admin.delete("/_sandbox/faults")
    assert cleared.status_code == 204
    assert cleared.content == b""
    assert admin.get("/_sandbox/faults").json() == FAULT_DEFAULTS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rate": 2}, "error_rate"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"error_statuses": [200]}, "error_statuses.0"),
        ({"times": 0}, "times"),
        ({"explode": True}, "explode"),
    ],
)
def test_invalid_faults_are_refused_with_a_nest_shaped_400(
    sandbox: Sandbox, body: dict[str, object], field: str
) -> None:
    response = sandbox.client().put("/_sandbox/faults", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["statusCode"] == 400
    assert payload["error"] == "Bad Request"
    assert [message.split(":")[0] for message in payload["message"]] == [field]
    assert sandbox.client().get("/_sandbox/faults").json() == FAULT_DEFAULTS


@pytest.mark.parametrize("content", [b"[]", b"not json"])
def test_a_faults_body_that_is_not_an_object_is_refused(sandbox: Sandbox, content: bytes) -> None:
    response = sandbox.client().put(
        "/_sandbox/faults", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400
