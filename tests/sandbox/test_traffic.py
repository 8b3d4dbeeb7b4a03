"""GET /_sandbox/traffic: API calls and 429s per window, on the sandbox's own clock."""

from __future__ import annotations

from typing import Any

from sandbox.seed import ADMIN_KEY, MEMBER_KEY
from tests.sandbox.support import CONNECTIONS, Sandbox, StartSandbox

ADMIN_BUCKET = ADMIN_KEY.rsplit(":", 1)[0]
MEMBER_BUCKET = MEMBER_KEY.rsplit(":", 1)[0]


def traffic(sandbox: Sandbox, **params: Any) -> dict[str, Any]:
    response = sandbox.client().get("/_sandbox/traffic", params=params)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def calls(sandbox: Sandbox, count: int, key: str = ADMIN_KEY) -> list[int]:
    api = sandbox.api(key=key)
    return [api.get(CONNECTIONS).status_code for _ in range(count)]


def test_an_idle_sandbox_reports_no_traffic(sandbox: Sandbox) -> None:
    report = traffic(sandbox)
    assert report["calls"] == 0
    assert report["windows"] == []
    assert report["maxInAnyWindow"] == {"calls": 0, "accepted": 0, "rateLimited": 0}


def test_calls_and_429s_are_counted_per_window_from_the_first_call(
    start_sandbox: StartSandbox,
) -> None:
    sandbox = start_sandbox(rate_limit_per_minute=60, rate_limit_burst=3)
    assert calls(sandbox, 5) == [200, 200, 200, 429, 429]
    sandbox.clock.advance(30)  # the bucket is full again
    assert calls(sandbox, 4) == [200, 200, 200, 429]
    sandbox.clock.advance(40)  # 70 s after the first call: the second window
    assert calls(sandbox, 1) == [200]
    report = traffic(sandbox)
    assert (report["calls"], report["rateLimited"]) == (10, 3)
    assert report["statuses"] == {"200": 7, "429": 3}
    assert report["windows"] == [
        {"start": 0, "calls": 9, "accepted": 6, "rateLimited": 3},
        {"start": 60, "calls": 1, "accepted": 1, "rateLimited": 0},
    ]
    assert report["firstCallAgoSeconds"] == 70


def test_the_busiest_window_is_found_wherever_it_starts(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_per_minute=6000, rate_limit_burst=1000)
    calls(sandbox, 1)
    sandbox.clock.advance(50)
    calls(sandbox, 3)
    sandbox.clock.advance(20)
    calls(sandbox, 3)
    sandbox.clock.advance(60)  # exactly one window after the burst at 70 s: not in it
    calls(sandbox, 1)
    report = traffic(sandbox)
    assert [w["calls"] for w in report["windows"]] == [4, 3, 1]
    assert report["maxInAnyWindow"] == {"calls": 6, "accepted": 6, "rateLimited": 0}
    assert traffic(sandbox, window=10)["maxInAnyWindow"]["calls"] == 3
    assert traffic(sandbox, window=200)["maxInAnyWindow"]["calls"] == 8


def test_traffic_can_be_read_for_one_key(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_burst=2)
    assert calls(sandbox, 3, ADMIN_KEY) == [200, 200, 429]
    assert calls(sandbox, 1, MEMBER_KEY) == [200]
    assert traffic(sandbox)["calls"] == 4
    admin = traffic(sandbox, key=ADMIN_BUCKET)
    assert (admin["key"], admin["calls"], admin["rateLimited"]) == (ADMIN_BUCKET, 3, 1)
    assert traffic(sandbox, key=MEMBER_BUCKET)["calls"] == 1


def test_the_traffic_names_keys_without_their_secrets(sandbox: Sandbox) -> None:
    calls(sandbox, 1, ADMIN_KEY)
    calls(sandbox, 1, MEMBER_KEY)
    raw = sandbox.client().get("/_sandbox/traffic").text
    assert traffic(sandbox, key=ADMIN_BUCKET)["calls"] == 1
    for secret in ("sandbox-admin-secret-0001", "sandbox-member-secret-0002"):
        assert secret not in raw
        assert traffic(sandbox, key=f"{ADMIN_BUCKET}:{secret}")["calls"] == 0


def test_only_api_calls_count_unauthenticated_ones_included(sandbox: Sandbox) -> None:
    sandbox.client().get("/healthz")
    sandbox.client().get("/consent/google", params={"state": "x"})
    sandbox.client().get(CONNECTIONS)  # 401: meetergo still received it
    report = traffic(sandbox)
    assert report["calls"] == 1
    assert report["statuses"] == {"401": 1}
    assert traffic(sandbox, key=ADMIN_BUCKET)["calls"] == 0


def test_traffic_outlives_the_request_logs_size(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(request_log_size=2, traffic_log_size=4)
    calls(sandbox, 6)
    assert len(sandbox.client().get("/_sandbox/requests").json()) == 2
    report = traffic(sandbox)
    assert (report["calls"], report["forgotten"]) == (4, 2)


def test_reset_and_delete_clear_the_traffic(sandbox: Sandbox) -> None:
    calls(sandbox, 2)
    assert sandbox.client().delete("/_sandbox/traffic").status_code == 204
    assert traffic(sandbox)["calls"] == 0
    calls(sandbox, 2)
    assert sandbox.client().post("/_sandbox/reset").status_code == 204
    assert traffic(sandbox)["calls"] == 0


def test_reading_the_traffic_is_not_itself_recorded(sandbox: Sandbox) -> None:
    traffic(sandbox)
    assert sandbox.client().get("/_sandbox/requests").json() == []


def test_a_window_must_be_positive(sandbox: Sandbox) -> None:
    assert sandbox.client().get("/_sandbox/traffic", params={"window": 0}).status_code == 400
