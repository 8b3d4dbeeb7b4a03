"""SANDBOX_USERS: hundreds of distinct meetergo users with connections, the same every time."""

from __future__ import annotations

import uuid

from sandbox.seed import (
    ALICE_ID,
    BOB_ID,
    CAROL_ID,
    GENERATED_NAMESPACE,
    MEMBER_KEY,
    generated_user_id,
    seed_summary,
    seeded_connections,
)
from tests.sandbox.support import CONNECTIONS, IsolatedSettings, Sandbox, StartSandbox


def listing(sandbox: Sandbox, user: str) -> list[dict[str, object]]:
    response = sandbox.api(key=MEMBER_KEY, user=user).get(CONNECTIONS)
    assert response.status_code == 200, response.text
    connections: list[dict[str, object]] = response.json()["connections"]
    return connections


def test_generated_users_have_uuid5_ids_and_are_listed_after_the_fixed_ones(
    start_sandbox: StartSandbox,
) -> None:
    sandbox = start_sandbox(users=5)
    users = sandbox.client().get("/_sandbox/seed").json()["users"]
    ids = [user["id"] for user in users]
    generated = [str(uuid.uuid5(GENERATED_NAMESPACE, f"user-{n}")) for n in range(1, 6)]
    assert ids == [ALICE_ID, BOB_ID, CAROL_ID, *generated]
    assert generated == [generated_user_id(n) for n in range(1, 6)]
    assert users[3] == {
        "id": generated[0],
        "name": "Load User 0001",
        "email": "user0001@acme-demo.example",
        "isAdmin": False,
    }


def test_each_generated_user_has_one_to_three_connections_with_calendars(
    start_sandbox: StartSandbox,
) -> None:
    sandbox = start_sandbox(users=4)
    counts = [len(listing(sandbox, generated_user_id(n))) for n in range(1, 5)]
    assert counts == [1, 2, 3, 1]
    third = listing(sandbox, generated_user_id(3))
    assert [c["id"] for c in third] == [c.id for c in seeded_connections(3)]
    assert [c["provider"] for c in third] == ["google", "outlook", "google"]
    assert [c["isPrimary"] for c in third] == [True, False, False]
    assert third[1]["email"] == "user0003.1@outlook.example"
    api = sandbox.api(key=MEMBER_KEY, user=generated_user_id(3))
    for connection in third:
        calendars = api.get(f"{CONNECTIONS}/{connection['id']}/calendars").json()["calendars"]
        assert len(calendars) == 3
        assert [c["selected"] for c in calendars] == [True, False, False]
    # The fixed users still start with nothing.
    assert listing(sandbox, ALICE_ID) == []


def test_two_sandboxes_seed_exactly_the_same_state(start_sandbox: StartSandbox) -> None:
    first, second = start_sandbox(users=30), start_sandbox(users=30)
    state = first.client().get("/_sandbox/state").json()
    assert state == second.client().get("/_sandbox/state").json()
    assert len(state["users"]) == 30
    assert sum(len(conns) for conns in state["users"].values()) == 60


def test_reset_restores_the_generated_connections(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(users=2)
    user = generated_user_id(2)
    before = listing(sandbox, user)
    api = sandbox.api(key=MEMBER_KEY, user=user)
    assert api.delete(f"{CONNECTIONS}/{before[0]['id']}").status_code == 204
    assert len(listing(sandbox, user)) == 1
    assert sandbox.client().post("/_sandbox/reset").status_code == 204
    assert listing(sandbox, user) == before


def test_a_generated_user_can_connect_another_calendar(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(users=1)
    api = sandbox.api(key=MEMBER_KEY, user=generated_user_id(1))
    auth_url, _ = sandbox.auth_url(api)
    assert "user0001@acme-demo.example" in sandbox.client().get(auth_url).text
    created = sandbox.connect(api, email="second@gmail.example")
    assert created["isPrimary"] is False
    assert len(listing(sandbox, generated_user_id(1))) == 2


def test_users_beyond_the_count_do_not_exist(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(users=3)
    refused = sandbox.api(key=MEMBER_KEY, user=generated_user_id(4)).get(CONNECTIONS)
    assert refused.status_code == 404
    assert refused.json()["message"] == "User not found"


def test_by_default_no_users_are_generated(sandbox: Sandbox) -> None:
    assert len(sandbox.client().get("/_sandbox/seed").json()["users"]) == 3
    assert sandbox.client().get("/_sandbox/state").json() == {"users": {}}
    unknown = sandbox.api(key=MEMBER_KEY, user=generated_user_id(1))
    assert unknown.get(CONNECTIONS).status_code == 404


def test_the_state_endpoint_spends_no_tokens(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(users=1, rate_limit_burst=1)
    for _ in range(3):
        assert sandbox.client().get("/_sandbox/state").status_code == 200
    assert len(listing(sandbox, generated_user_id(1))) == 1


def test_the_summary_mentions_the_generated_users_without_listing_them_all() -> None:
    summary = seed_summary(IsolatedSettings(users=500))
    assert "plus 500 generated users" in summary
    assert generated_user_id(1) in summary
    assert generated_user_id(500) in summary
    assert generated_user_id(2) not in summary
