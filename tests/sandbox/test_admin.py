"""The sandbox's own endpoints, the seed, and NestJS-shaped answers for unknown routes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.app import create_sandbox_app
from sandbox.seed import (
    ADMIN_KEY,
    ALICE_ID,
    ALICE_PERSONAL_TOKEN,
    BOB_ID,
    CAROL_ID,
    COMPANY_ID,
    EXPIRED_KEY,
    MALLORY_ID,
    MEMBER_KEY,
    seed_summary,
)
from tests.sandbox.support import (
    CONNECTIONS,
    IsolatedSettings,
    Sandbox,
    StartSandbox,
    nest,
)
from tests.support.servers import serve


def test_healthz_answers_ok(sandbox: Sandbox) -> None:
    response = sandbox.client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_seed_lists_company_keys_and_users(sandbox: Sandbox) -> None:
    seed = sandbox.client().get("/_sandbox/seed").json()
    assert seed["company"] == {"id": COMPANY_ID, "name": "Acme Demo GmbH"}
    assert [(k["name"], k["kind"], k["key"], k["mayUseUserId"]) for k in seed["keys"]] == [
        ("admin", "platform", ADMIN_KEY, True),
        ("member", "platform", MEMBER_KEY, False),
        ("expired", "platform", EXPIRED_KEY, True),
        ("alice-personal", "personal", ALICE_PERSONAL_TOKEN, False),
    ]
    assert seed["keys"][3]["ownerId"] == ALICE_ID
    assert [(u["id"], u["name"], u["isAdmin"]) for u in seed["users"]] == [
        (ALICE_ID, "Alice Admin", True),
        (BOB_ID, "Bob Builder", False),
        (CAROL_ID, "Carol Cook", False),
    ]
    assert seed["otherCompany"]["name"] == "Other Corp"
    assert [u["id"] for u in seed["otherCompany"]["users"]] == [MALLORY_ID]
    assert seed["consentUrl"] == f"{sandbox.url}/consent/"
    assert seed["consentProviders"] == ["google", "outlook"]


def test_the_seed_is_the_same_in_every_new_sandbox() -> None:
    seeds = []
    for _ in range(2):
        with serve(create_sandbox_app(IsolatedSettings())) as server:
            seeds.append(httpx.get(f"{server.url}/_sandbox/seed").json())
    assert seeds[0] == seeds[1]
    assert seeds[0]["consentUrl"] == "http://127.0.0.1:8001/consent/"


def test_the_seed_summary_names_every_key_user_and_the_consent_url() -> None:
    summary = seed_summary(IsolatedSettings(public_url="http://127.0.0.1:9001"))
    assert summary == seed_summary(IsolatedSettings(public_url="http://127.0.0.1:9001"))
    assert "Acme Demo GmbH" in summary
    for key, kind in [
        (ADMIN_KEY, "platform key, may use userId"),
        (MEMBER_KEY, "platform key, no userId"),
        (EXPIRED_KEY, "platform key, expired"),
        (ALICE_PERSONAL_TOKEN, "personal token"),
    ]:
        line = next(line for line in summary.splitlines() if key in line)
        assert kind in line
    for user_id, name in [
        (ALICE_ID, "Alice Admin"),
        (BOB_ID, "Bob Builder"),
        (CAROL_ID, "Carol Cook"),
        (MALLORY_ID, "Mallory"),
    ]:
        assert any(user_id in line and name in line for line in summary.splitlines())
    assert "http://127.0.0.1:9001/consent/" in summary


def test_reset_restores_the_seed(sandbox: Sandbox) -> None:
    api = sandbox.api()
    sandbox.connect(api)
    auth_url, _ = sandbox.auth_url(api)
    admin = sandbox.client()
    admin.put("/_sandbox/faults", json={"consent_coop": True})

    response = admin.post("/_sandbox/reset")
    assert response.status_code == 204
    assert api.get(CONNECTIONS).json() == {"connections": [], "total": 0}
    assert admin.get(auth_url).status_code == 400  # open flows are gone
    assert admin.get("/_sandbox/faults").json()["consent_coop"] is False
    assert [e["path"] for e in admin.get("/_sandbox/requests").json()] == [
        CONNECTIONS,
        "/consent/google",
        "/_sandbox/faults",
    ]


def test_reset_refills_the_rate_limit_buckets(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_burst=1)
    api = sandbox.api()
    assert [api.get(CONNECTIONS).status_code for _ in range(2)] == [200, 429]
    sandbox.client().post("/_sandbox/reset")
    assert api.get(CONNECTIONS).status_code == 200


def test_reset_restores_the_faults_the_sandbox_started_with(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(faults={"latency_ms": 1})
    admin = sandbox.client()
    admin.delete("/_sandbox/faults")
    admin.post("/_sandbox/reset")
    assert admin.get("/_sandbox/faults").json()["latency_ms"] == 1


def test_sandboxes_do_not_share_state(start_sandbox: StartSandbox) -> None:
    one, two = start_sandbox(), start_sandbox()
    one.connect(one.api())
    assert two.api().get(CONNECTIONS).json()["total"] == 0


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/x", "Cannot GET /x"),
        ("GET", "/x?a=1&b=2", "Cannot GET /x?a=1&b=2"),
        ("GET", "/v4/calendar-connections", "Cannot GET /v4/calendar-connections"),
        ("POST", "/v4/users", "Cannot POST /v4/users"),
        ("PUT", CONNECTIONS, f"Cannot PUT {CONNECTIONS}"),
        ("GET", f"{CONNECTIONS}/", f"Cannot GET {CONNECTIONS}/"),
        ("GET", "/docs", "Cannot GET /docs"),
        ("DELETE", "/_sandbox/seed", "Cannot DELETE /_sandbox/seed"),
    ],
)
def test_an_unknown_route_answers_nests_404(
    sandbox: Sandbox, method: str, path: str, message: str
) -> None:
    response = sandbox.api().request(method, path)
    assert response.status_code == 404
    assert response.json() == nest(404, message, "Not Found")


def test_a_key_expires_at_the_moment_set_and_comes_back_on_reset_or_delete(
    sandbox: Sandbox,
) -> None:
    admin = sandbox.client()
    api = sandbox.api(MEMBER_KEY)
    soon = datetime.now(UTC) + timedelta(milliseconds=300)
    response = admin.put("/_sandbox/keys/member/expiry", json={"expiresAt": soon.isoformat()})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "member"
    assert api.get(CONNECTIONS).status_code == 200  # not yet
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
    expired = api.get(CONNECTIONS)
    assert expired.status_code == 401
    assert expired.json()["message"] == "API key has expired"

    assert admin.delete("/_sandbox/keys/member/expiry").status_code == 204
    assert api.get(CONNECTIONS).status_code == 200
    admin.put("/_sandbox/keys/member/expiry", json={"expiresAt": "2000-01-01T00:00:00Z"})
    assert api.get(CONNECTIONS).status_code == 401
    admin.post("/_sandbox/reset")
    assert api.get(CONNECTIONS).status_code == 200


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("nobody", {"expiresAt": "2000-01-01T00:00:00Z"}, 404),
        ("member", {"expiresAt": "2000-01-01T00:00:00"}, 400),  # no time zone: ambiguous
        ("member", {"expires": "2000-01-01T00:00:00Z"}, 400),
    ],
)
def test_key_expiry_refuses_unknown_keys_and_unclear_moments(
    sandbox: Sandbox, name: str, body: dict[str, str], status: int
) -> None:
    response = sandbox.client().put(f"/_sandbox/keys/{name}/expiry", json=body)
    assert response.status_code == status, response.text
