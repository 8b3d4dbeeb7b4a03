"""The meetergo API key's life cycle, against the sandbox over a real socket.

The sandbox expires a seeded key at a moment the test chooses (``PUT /_sandbox/keys/{name}/
expiry``), exactly as meetergo stops accepting a platform key when it expires: 401 ``API key has
expired``. The service must roll over to ``BFF_MEETERGO_API_KEY_NEXT`` with no failed call, and
without a next key say so once (error log, gauge, ``/readyz``) while staying in rotation.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.seed import ADMIN_KEY, MEMBER_KEY
from tests.proxy.conftest import MakeBff
from tests.proxy.support import Bff, SandboxAdmin, assert_problem

METRICS_TOKEN = "Mt5Qx8Zr2Lp7Wv4Nk1Hb9Yc6Jd3Fs0Ga5Ue8Io2Pw7Rm"
MEMBER_BUCKET = MEMBER_KEY.rsplit(":", 1)[0]
ADMIN_BUCKET = ADMIN_KEY.rsplit(":", 1)[0]


def expire(sandbox: SandboxAdmin, name: str, moment: datetime | None = None) -> None:
    moment = moment or datetime.now(UTC) - timedelta(seconds=1)
    response = sandbox.client.put(
        f"/_sandbox/keys/{name}/expiry", json={"expiresAt": moment.isoformat()}
    )
    assert response.status_code == 200, response.text


def keys_seen(sandbox: SandboxAdmin) -> list[str]:
    """Which key each request to meetergo carried (the sandbox masks the secret part)."""
    return [
        entry["headers"]["authorization"].split()[1].rsplit(":", 1)[0]
        for entry in sandbox.requests()
    ]


def metric(bff: Bff, line_start: str) -> float:
    response = bff.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not exposed")


def readyz(bff: Bff) -> tuple[int, dict[str, str]]:
    response = bff.client.get("/readyz")
    checks: dict[str, str] = response.json()["checks"]
    return response.status_code, checks


def test_the_next_key_takes_over_when_the_current_one_expires_with_no_failed_call(
    make_bff: MakeBff, sandbox: SandboxAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    bff = make_bff(
        meetergo_api_key=MEMBER_KEY, meetergo_api_key_next=ADMIN_KEY, metrics_token=METRICS_TOKEN
    )
    caplog.set_level(logging.INFO)
    assert bff.operation("listConnections").status_code == 200
    assert keys_seen(sandbox) == [MEMBER_BUCKET]

    expire(sandbox, "member")
    sandbox.clear_log()
    # A write first: a 401 means meetergo did nothing, so it is resent with the next key.
    response = bff.operation("updateConnection", "no-such-connection")
    assert_problem(response, 404, "not_found")  # meetergo's answer with the next key
    assert keys_seen(sandbox) == [MEMBER_BUCKET, ADMIN_BUCKET]
    first, second = sandbox.requests()
    assert (first["method"], first["path"]) == (second["method"], second["path"])

    sandbox.clear_log()
    assert bff.operation("listConnections").status_code == 200
    assert keys_seen(sandbox) == [ADMIN_BUCKET]  # no more tries with the expired key

    switches = [
        r for r in caplog.records if "switching to BFF_MEETERGO_API_KEY_NEXT" in r.getMessage()
    ]
    assert len(switches) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert metric(bff, "bff_upstream_key_switches_total") == 1
    assert metric(bff, 'bff_upstream_key_in_use{key="next"}') == 1
    assert metric(bff, 'bff_upstream_key_in_use{key="current"}') == 0
    assert metric(bff, "bff_upstream_credential_refused") == 0
    assert readyz(bff) == (
        200,
        {"configuration": "ok", "upstream_pool": "ok", "upstream_credential": "ok"},
    )


def test_an_expired_key_without_a_next_one_degrades_readiness_reports_once_and_recovers(
    make_bff: MakeBff, sandbox: SandboxAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    bff = make_bff(meetergo_api_key=MEMBER_KEY, metrics_token=METRICS_TOKEN)
    caplog.set_level(logging.INFO)
    # The key expires a moment from now, as a real key does on its date.
    expire(sandbox, "member", datetime.now(UTC) + timedelta(milliseconds=200))
    assert bff.operation("listConnections").status_code == 200
    assert readyz(bff) == (
        200,
        {"configuration": "ok", "upstream_pool": "ok", "upstream_credential": "ok"},
    )
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while True:
        response = bff.operation("listConnections")
        if response.status_code != 200 or datetime.now(UTC) > deadline:
            break
    assert_problem(response, 502, "upstream_unauthorized")
    assert_problem(bff.operation("listConnections"), 502, "upstream_unauthorized")

    status, checks = readyz(bff)
    assert status == 200  # still in rotation: every replica shares the key
    assert checks["upstream_credential"] == "degraded: meetergo refuses the current API key (401)"
    assert metric(bff, "bff_upstream_credential_refused") == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # once, not once per call
    assert "runbook" in errors[0].getMessage()
    assert MEMBER_KEY.rsplit(":", 1)[1] not in caplog.text

    # meetergo accepts the key again (here: the expiry is lifted): the state clears by itself.
    assert sandbox.client.delete("/_sandbox/keys/member/expiry").status_code == 204
    assert bff.operation("listConnections").status_code == 200
    assert readyz(bff) == (
        200,
        {"configuration": "ok", "upstream_pool": "ok", "upstream_credential": "ok"},
    )
    assert metric(bff, "bff_upstream_credential_refused") == 0


def test_when_both_keys_are_refused_the_call_fails_once_per_key_and_the_next_key_is_degraded(
    make_bff: MakeBff, sandbox: SandboxAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    bff = make_bff(
        meetergo_api_key=MEMBER_KEY, meetergo_api_key_next=ADMIN_KEY, metrics_token=METRICS_TOKEN
    )
    caplog.set_level(logging.INFO)
    expire(sandbox, "member")
    expire(sandbox, "admin")

    assert_problem(bff.operation("listConnections"), 502, "upstream_unauthorized")
    assert keys_seen(sandbox) == [MEMBER_BUCKET, ADMIN_BUCKET]  # reads are not retried on 401
    sandbox.clear_log()
    assert_problem(bff.operation("listConnections"), 502, "upstream_unauthorized")
    assert keys_seen(sandbox) == [ADMIN_BUCKET]

    assert readyz(bff)[1]["upstream_credential"] == (
        "degraded: meetergo refuses the next API key (401)"
    )
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    assert metric(bff, "bff_upstream_key_switches_total") == 1
