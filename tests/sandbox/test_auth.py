"""Authentication and acting-user rules, in meetergo's order, on every API endpoint."""

from __future__ import annotations

import pytest

from sandbox.seed import (
    ADMIN_KEY,
    ALICE_ID,
    ALICE_PERSONAL_TOKEN,
    BOB_ID,
    CAROL_ID,
    EXPIRED_KEY,
    MALLORY_ID,
    MEMBER_KEY,
)
from tests.sandbox.support import CONNECTIONS, Sandbox, auth_url_path, nest

UNKNOWN_ID = "44444444-4444-4444-8444-444444444444"
ENDPOINTS = [
    ("GET", auth_url_path("google")),
    ("GET", CONNECTIONS),
    ("GET", f"{CONNECTIONS}/{UNKNOWN_ID}/calendars"),
    ("PATCH", f"{CONNECTIONS}/{UNKNOWN_ID}"),
    ("DELETE", f"{CONNECTIONS}/{UNKNOWN_ID}"),
    ("POST", f"{CONNECTIONS}/{UNKNOWN_ID}/set-primary"),
]
every_endpoint = pytest.mark.parametrize(("method", "path"), ENDPOINTS)

MISSING_USER_HEADER = "Missing required header 'x-meetergo-api-user-id' for API key authentication"
FORBIDDEN = nest(403, "Insufficient permissions", "Forbidden")
USER_NOT_FOUND = nest(404, "User not found", "Not Found")


@every_endpoint
def test_a_request_without_authorization_is_refused(
    sandbox: Sandbox, method: str, path: str
) -> None:
    response = sandbox.api(key=None).request(method, path)
    assert response.status_code == 401
    assert response.json() == nest(401, "Missing authorization header", "Unauthorized")


@every_endpoint
@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer ak_live:7f3e1a52-0000-4000-8000-000000000001:wrong-secret",
        "Bearer rgo-not-a-token",
        f"Basic {ADMIN_KEY}",
        ADMIN_KEY,
        "Bearer",
    ],
)
def test_an_unknown_key_is_refused(
    sandbox: Sandbox, method: str, path: str, authorization: str
) -> None:
    client = sandbox.client({"Authorization": authorization, "x-meetergo-api-user-id": ALICE_ID})
    response = client.request(method, path)
    assert response.status_code == 401
    assert response.json() == nest(401, "Invalid API key", "Unauthorized")


@every_endpoint
def test_an_expired_key_is_refused(sandbox: Sandbox, method: str, path: str) -> None:
    response = sandbox.api(key=EXPIRED_KEY).request(method, path)
    assert response.status_code == 401
    assert response.json() == nest(401, "API key has expired", "Unauthorized")


@every_endpoint
@pytest.mark.parametrize("key", [ADMIN_KEY, MEMBER_KEY])
def test_a_platform_key_needs_the_user_header(
    sandbox: Sandbox, method: str, path: str, key: str
) -> None:
    response = sandbox.api(key=key, user=None).request(method, path)
    assert response.status_code == 400
    assert response.json() == nest(400, MISSING_USER_HEADER, "Bad Request")


@every_endpoint
@pytest.mark.parametrize(
    "user",
    [UNKNOWN_ID, MALLORY_ID, "alice", "11111111111141118111111111111111"],
    ids=["unknown", "other-company", "not-a-uuid", "uuid-without-dashes"],
)
def test_a_user_outside_the_company_is_not_found(
    sandbox: Sandbox, method: str, path: str, user: str
) -> None:
    response = sandbox.api(key=ALICE_PERSONAL_TOKEN, user=user).request(method, path)
    assert response.status_code == 404
    assert response.json() == USER_NOT_FOUND


@pytest.mark.parametrize("user", [UNKNOWN_ID, MALLORY_ID, "alice"])
def test_a_platform_key_with_a_user_outside_the_company_gets_user_not_found(
    sandbox: Sandbox, user: str
) -> None:
    response = sandbox.api(key=ADMIN_KEY, user=user).get(CONNECTIONS)
    assert response.status_code == 404
    assert response.json() == USER_NOT_FOUND


def test_an_empty_user_header_counts_as_missing(sandbox: Sandbox) -> None:
    platform = sandbox.api(key=MEMBER_KEY, user="").get(CONNECTIONS)
    personal = sandbox.api(key=ALICE_PERSONAL_TOKEN, user="").get(CONNECTIONS)
    assert platform.json() == nest(400, MISSING_USER_HEADER, "Bad Request")
    assert personal.status_code == 200


def test_the_user_header_is_matched_without_regard_to_case(sandbox: Sandbox) -> None:
    upper = "AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA"
    assert sandbox.api(user=upper).get(CONNECTIONS).status_code == 404
    assert sandbox.api(user=ALICE_ID.upper()).get(CONNECTIONS).status_code == 200


def test_the_scheme_bearer_is_case_insensitive(sandbox: Sandbox) -> None:
    client = sandbox.client(
        {"Authorization": f"bearer {ADMIN_KEY}", "x-meetergo-api-user-id": BOB_ID}
    )
    assert client.get(CONNECTIONS).status_code == 200


def test_a_personal_token_without_the_user_header_acts_as_its_owner(sandbox: Sandbox) -> None:
    alice_admin = sandbox.api(key=ADMIN_KEY, user=ALICE_ID)
    connection = sandbox.connect(alice_admin)
    listing = sandbox.api(key=ALICE_PERSONAL_TOKEN, user=None).get(CONNECTIONS)
    assert listing.status_code == 200
    assert [c["id"] for c in listing.json()["connections"]] == [connection["id"]]


def test_a_personal_token_may_name_its_owner(sandbox: Sandbox) -> None:
    response = sandbox.api(key=ALICE_PERSONAL_TOKEN, user=ALICE_ID).get(CONNECTIONS)
    assert response.status_code == 200


@every_endpoint
@pytest.mark.parametrize("user", [BOB_ID, CAROL_ID])
def test_a_personal_token_cannot_act_for_another_user(
    sandbox: Sandbox, method: str, path: str, user: str
) -> None:
    response = sandbox.api(key=ALICE_PERSONAL_TOKEN, user=user).request(method, path)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


def test_the_admin_key_acts_for_the_user_named_by_user_id(sandbox: Sandbox) -> None:
    admin_as_alice = sandbox.api(key=ADMIN_KEY, user=ALICE_ID)
    created = sandbox.connect(admin_as_alice, email="bob@gmail.example", userId=BOB_ID)

    bob = sandbox.api(key=MEMBER_KEY, user=BOB_ID).get(CONNECTIONS).json()
    alice = admin_as_alice.get(CONNECTIONS).json()
    assert [c["id"] for c in bob["connections"]] == [created["id"]]
    assert alice == {"connections": [], "total": 0}


def test_the_admin_key_with_user_id_reads_that_users_connections(sandbox: Sandbox) -> None:
    bob_connection = sandbox.connect(sandbox.api(key=MEMBER_KEY, user=BOB_ID))
    response = sandbox.api(key=ADMIN_KEY, user=ALICE_ID).get(CONNECTIONS, params={"userId": BOB_ID})
    assert [c["id"] for c in response.json()["connections"]] == [bob_connection["id"]]


@pytest.mark.parametrize("user_id", [UNKNOWN_ID, MALLORY_ID, "bob", ""])
def test_the_admin_key_with_an_unknown_user_id_gets_user_not_found(
    sandbox: Sandbox, user_id: str
) -> None:
    response = sandbox.api(key=ADMIN_KEY).get(CONNECTIONS, params={"userId": user_id})
    assert response.status_code == 404
    assert response.json() == USER_NOT_FOUND


@every_endpoint
@pytest.mark.parametrize(
    ("key", "user"),
    [(MEMBER_KEY, ALICE_ID), (ALICE_PERSONAL_TOKEN, None)],
    ids=["member", "personal"],
)
def test_user_id_for_another_user_is_forbidden_without_the_admin_key(
    sandbox: Sandbox, method: str, path: str, key: str, user: str | None
) -> None:
    response = sandbox.api(key=key, user=user).request(method, path, params={"userId": BOB_ID})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


@pytest.mark.parametrize(
    ("key", "user"),
    [(MEMBER_KEY, CAROL_ID), (ALICE_PERSONAL_TOKEN, None)],
    ids=["member", "personal"],
)
def test_user_id_naming_the_acting_user_is_allowed_for_any_key(
    sandbox: Sandbox, key: str, user: str | None
) -> None:
    acting = user or ALICE_ID
    response = sandbox.api(key=key, user=user).get(CONNECTIONS, params={"userId": acting})
    assert response.status_code == 200


def test_authentication_is_checked_before_the_route_parameters(sandbox: Sandbox) -> None:
    response = sandbox.api(key=None).get(auth_url_path("not-a-provider"))
    assert response.status_code == 401
