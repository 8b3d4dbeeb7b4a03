"""The sandbox's real answers, over a real socket, are the ones the upstream contract describes.

Each exchange is checked by openapi-core against openapi/meetergo-calendar-connections.yaml,
re-homed onto meetergo's server URL; the assertions after it pin what the contract leaves loose
(the documented messages, the documented shapes of the OAuth redirect).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.contract.sandbox_client import (
    ADMIN_KEY,
    ALICE,
    ALICE_TOKEN,
    API,
    APP_CALLBACK,
    BOB,
    CALLS,
    CAROL,
    CONNECTION_CALLS,
    EXPIRED_KEY,
    MALLORY,
    MEMBER_KEY,
    Call,
    Sandbox,
    auth,
)
from tests.contract.upstream_contract import UpstreamContract, iter_operations

UNKNOWN_ID = "0c0c0c0c-0000-4000-8000-0000000000ff"
CALL_IDS = [call.operation_id for call in CALLS]


def _decode_until_stable(value: str) -> str:
    while (decoded := unquote(value)) != value:
        value = decoded
    return value


def test_the_calls_cover_every_operation(contract: UpstreamContract) -> None:
    documented = {op["operationId"] for _, _, op in iter_operations(contract.document)}
    assert set(CALL_IDS) == documented


# --- Successes -------------------------------------------------------------------------------


def test_auth_url(sandbox: Sandbox, contract: UpstreamContract) -> None:
    response = sandbox.client.get(
        f"{API}/auth/outlook/url",
        headers=auth(ADMIN_KEY, ALICE),
        params={"redirectUrl": APP_CALLBACK, "setAsCalendarSync": "true"},
    )
    assert response.status_code == 200
    body = contract.check_exchange(response)
    assert body["provider"] == "outlook"
    origin = str(sandbox.client.base_url).rstrip("/")
    assert body["authUrl"].startswith(f"{origin}/consent/outlook?state=")


def test_auth_url_without_optional_parameters(sandbox: Sandbox, contract: UpstreamContract) -> None:
    response = sandbox.client.get(f"{API}/auth/google/url", headers=auth(ADMIN_KEY, ALICE))
    assert response.status_code == 200
    assert contract.check_exchange(response)["provider"] == "google"


def test_list_connections(sandbox: Sandbox, contract: UpstreamContract) -> None:
    empty = sandbox.client.get(f"{API}/connections", headers=auth(ADMIN_KEY, ALICE))
    assert empty.status_code == 200
    assert contract.check_exchange(empty) == {"connections": [], "total": 0}

    first = sandbox.connect(ALICE, "google", "alice@gmail.example")
    second = sandbox.connect(ALICE, "outlook", "alice@outlook.example")
    listed = sandbox.client.get(f"{API}/connections", headers=auth(ADMIN_KEY, ALICE))
    assert listed.status_code == 200
    body = contract.check_exchange(listed)
    assert body["total"] == 2
    assert [c["id"] for c in body["connections"]] == [first, second]
    assert [c["isPrimary"] for c in body["connections"]] == [True, False]
    # docs/sandbox.md promises every field the contract names, though meetergo may omit some.
    documented = set(contract.document["components"]["schemas"]["Connection"]["properties"])
    for connection in body["connections"]:
        assert set(connection) >= documented


def test_list_calendars(sandbox: Sandbox, contract: UpstreamContract) -> None:
    connection_id = sandbox.connect()
    response = sandbox.client.get(
        f"{API}/connections/{connection_id}/calendars", headers=auth(ADMIN_KEY, ALICE)
    )
    assert response.status_code == 200
    body = contract.check_exchange(response)
    assert (body["connectionId"], body["provider"]) == (connection_id, "google")
    assert len(body["calendars"]) == 3
    assert [c["canEdit"] for c in body["calendars"]].count(False) == 1
    documented = set(contract.document["components"]["schemas"]["Calendar"]["properties"])
    assert all(set(calendar) >= documented for calendar in body["calendars"])


def test_update_connection_with_every_field(sandbox: Sandbox, contract: UpstreamContract) -> None:
    connection_id = sandbox.connect()
    writable = [c["id"] for c in sandbox.calendars(connection_id) if c["canEdit"]]
    change = {
        "primaryCalendar": writable[1],
        "selectedCalendars": writable,
        "validateAvailability": False,
        "cancelIfDeclinedOrDeleted": False,
        "disableAttendeeNotification": True,
        "syncBuffersToCalendar": True,
    }
    response = sandbox.client.patch(
        f"{API}/connections/{connection_id}", headers=auth(ADMIN_KEY, ALICE), json=change
    )
    assert response.status_code == 200
    body = contract.check_exchange(response)
    assert {name: body[name] for name in change} == change


def test_delete_connection(sandbox: Sandbox, contract: UpstreamContract) -> None:
    connection_id = sandbox.connect()
    response = sandbox.client.delete(
        f"{API}/connections/{connection_id}", headers=auth(ADMIN_KEY, ALICE)
    )
    assert response.status_code == 204
    assert response.content == b""
    contract.check_exchange(response)


def test_set_primary(sandbox: Sandbox, contract: UpstreamContract) -> None:
    sandbox.connect(ALICE, "google", "alice@gmail.example")
    second = sandbox.connect(ALICE, "outlook", "alice@outlook.example")
    response = sandbox.client.post(
        f"{API}/connections/{second}/set-primary", headers=auth(ADMIN_KEY, ALICE)
    )
    assert response.status_code == 200
    body = contract.check_exchange(response)
    assert (body["id"], body["isPrimary"]) == (second, True)


def test_admin_key_acts_for_another_user(sandbox: Sandbox, contract: UpstreamContract) -> None:
    bobs = sandbox.connect(BOB, "google", "bob@gmail.example")
    response = sandbox.client.get(
        f"{API}/connections", headers=auth(ADMIN_KEY, ALICE), params={"userId": BOB}
    )
    assert response.status_code == 200
    assert [c["id"] for c in contract.check_exchange(response)["connections"]] == [bobs]


def test_personal_token_needs_no_user_header(sandbox: Sandbox, contract: UpstreamContract) -> None:
    response = sandbox.client.get(f"{API}/connections", headers=auth(ALICE_TOKEN))
    assert response.status_code == 200
    contract.check_exchange(response)


# --- The OAuth redirect ----------------------------------------------------------------------


def test_success_redirect_carries_the_documented_parameters(
    sandbox: Sandbox, contract: UpstreamContract
) -> None:
    documented = contract.document["x-oauth-redirect-results"]["variants"]["current"]["success"]
    result = sandbox.consent(sandbox.auth_url(), email="alice@gmail.example")
    assert result.location.startswith(APP_CALLBACK + "?")
    assert set(result.params) == set(documented["parameters"])
    assert (result.params["success"], result.params["provider"]) == ("true", "google")
    listed = sandbox.client.get(f"{API}/connections", headers=auth(ADMIN_KEY, ALICE)).json()
    assert [c["id"] for c in listed["connections"]] == [result.params["connectionId"]]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"decision": "deny"}, "access_denied"),
        ({"grant_calendar": False}, "invalid_scope"),
    ],
    ids=["denied", "scope withheld"],
)
def test_error_redirect_carries_the_documented_parameters(
    sandbox: Sandbox, contract: UpstreamContract, answer: dict[str, Any], message: str
) -> None:
    results = contract.document["x-oauth-redirect-results"]
    result = sandbox.consent(sandbox.auth_url(), email="alice@gmail.example", **answer)
    assert set(result.params) == set(results["variants"]["current"]["error"]["parameters"])
    assert result.params["error"] == "true"
    assert _decode_until_stable(result.params["message"]) == message
    assert message in results["errorMessages"]


def test_connection_exists_message_is_encoded_twice(
    sandbox: Sandbox, contract: UpstreamContract
) -> None:
    sandbox.connect(ALICE, "google", "alice@gmail.example")
    result = sandbox.consent(sandbox.auth_url(), email="alice@gmail.example")
    assert "message=Connection%2520already%2520exists" in result.raw_query
    message = _decode_until_stable(result.params["message"])
    assert message == "Connection already exists"
    assert message in contract.document["x-oauth-redirect-results"]["errorMessages"]


def test_legacy_redirect_parameters(
    legacy_results_sandbox: Sandbox, contract: UpstreamContract
) -> None:
    legacy = contract.document["x-oauth-redirect-results"]["variants"]["legacy"]
    sandbox = legacy_results_sandbox
    success = sandbox.consent(sandbox.auth_url(), email="alice@gmail.example")
    assert set(success.params) == set(legacy["success"]["parameters"])
    assert success.params["success"] == "true"
    assert success.params["connection_id"]

    denied = sandbox.consent(sandbox.auth_url(), email="alice@gmail.example", decision="deny")
    assert set(denied.params) == set(legacy["error"]["parameters"])
    assert (denied.params["success"], denied.params["error"]) == ("false", "access_denied")


# --- Authentication and the acting user ------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "Missing authorization header"),
        ("ak_live:7f3e1a52-0000-4000-8000-000000000001:wrong-secret", "Invalid API key"),
        (EXPIRED_KEY, "API key has expired"),
    ],
    ids=["missing", "invalid", "expired"],
)
@pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
def test_unusable_key_is_401(
    sandbox: Sandbox, contract: UpstreamContract, call: Call, key: str | None, message: str
) -> None:
    response = sandbox.send(call, headers=auth(key, ALICE))
    assert response.status_code == 401
    assert contract.check_response(response)["message"] == message


@pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
def test_platform_key_without_user_header_is_400(
    sandbox: Sandbox, contract: UpstreamContract, call: Call
) -> None:
    response = sandbox.send(call, headers=auth(ADMIN_KEY))
    assert response.status_code == 400
    assert contract.check_response(response)["message"] == (
        "Missing required header 'x-meetergo-api-user-id' for API key authentication"
    )


@pytest.mark.parametrize(
    ("user", "params"),
    [
        (UNKNOWN_ID, None),
        (MALLORY, None),
        ("not-a-uuid", None),
        (ALICE, {"userId": UNKNOWN_ID}),
    ],
    ids=["unknown user", "user of another company", "not a uuid", "unknown userId"],
)
@pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
def test_user_not_found_is_404(
    sandbox: Sandbox,
    contract: UpstreamContract,
    call: Call,
    *,
    user: str,
    params: dict[str, str] | None,
) -> None:
    response = sandbox.send(call, headers=auth(ADMIN_KEY, user), params=params)
    assert response.status_code == 404
    body = contract.check_response(response)
    assert (body["message"], body["error"]) == ("User not found", "Not Found")


@pytest.mark.parametrize(
    ("key", "user", "params"),
    [
        (ALICE_TOKEN, BOB, None),
        (MEMBER_KEY, ALICE, {"userId": BOB}),
        (ALICE_TOKEN, None, {"userId": CAROL}),
    ],
    ids=["personal token for another user", "member key with userId", "token with userId"],
)
@pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
def test_acting_beyond_the_key_is_403(
    sandbox: Sandbox,
    contract: UpstreamContract,
    call: Call,
    *,
    key: str,
    user: str | None,
    params: dict[str, str] | None,
) -> None:
    response = sandbox.send(call, headers=auth(key, user), params=params)
    assert response.status_code == 403
    assert contract.check_response(response)["error"] == "Forbidden"


# --- Connections that are not there ----------------------------------------------------------


@pytest.mark.parametrize("call", CONNECTION_CALLS, ids=[c.operation_id for c in CONNECTION_CALLS])
def test_unknown_connection_is_404(
    sandbox: Sandbox, contract: UpstreamContract, call: Call
) -> None:
    response = sandbox.send(call, connection_id=UNKNOWN_ID, headers=auth(ADMIN_KEY, ALICE))
    assert response.status_code == 404
    assert contract.check_response(response)["message"] == "Calendar connection not found"


@pytest.mark.parametrize("call", CONNECTION_CALLS, ids=[c.operation_id for c in CONNECTION_CALLS])
def test_another_users_connection_is_404(
    sandbox: Sandbox, contract: UpstreamContract, call: Call
) -> None:
    bobs = sandbox.connect(BOB, "google", "bob@gmail.example")
    response = sandbox.send(call, connection_id=bobs, headers=auth(ADMIN_KEY, ALICE))
    assert response.status_code == 404
    assert contract.check_response(response)["message"] == "Calendar connection not found"


# --- Validation ------------------------------------------------------------------------------

TYPE_ERRORS = [
    pytest.param({"primaryCalendar": 5}, "primaryCalendar must be a string", id="number"),
    pytest.param({"selectedCalendars": "primary"}, None, id="not a list"),
    pytest.param({"validateAvailability": "yes"}, None, id="not a boolean"),
    pytest.param({"foo": 1}, "property foo should not exist", id="unknown field"),
]


@pytest.mark.parametrize(("body", "message"), TYPE_ERRORS)
def test_patch_validation_error_as_a_list(
    sandbox: Sandbox, contract: UpstreamContract, body: dict[str, Any], message: str | None
) -> None:
    connection_id = sandbox.connect()
    response = sandbox.client.patch(
        f"{API}/connections/{connection_id}", headers=auth(ADMIN_KEY, ALICE), json=body
    )
    assert response.status_code == 400
    answer = contract.check_response(response)
    assert isinstance(answer["message"], list)
    assert answer["message"]
    if message is not None:
        assert message in answer["message"]


@pytest.mark.parametrize(("body", "message"), TYPE_ERRORS)
def test_patch_validation_error_as_one_message(
    string_form_sandbox: Sandbox,
    contract: UpstreamContract,
    body: dict[str, Any],
    message: str | None,
) -> None:
    sandbox = string_form_sandbox
    connection_id = sandbox.connect()
    response = sandbox.client.patch(
        f"{API}/connections/{connection_id}", headers=auth(ADMIN_KEY, ALICE), json=body
    )
    assert response.status_code == 400
    answer = contract.check_response(response)
    assert answer["message"] == "Validation failed"
    assert [error["field"] for error in answer["errors"]] == list(body)
    if message is not None:
        assert [error["message"] for error in answer["errors"]] == [message]


@pytest.mark.parametrize(
    "pick",
    [
        pytest.param(lambda calendars: "no-such-calendar", id="unknown calendar"),
        pytest.param(
            lambda calendars: next(c["id"] for c in calendars if not c["canEdit"]),
            id="read-only calendar",
        ),
    ],
)
def test_patch_primary_calendar_must_be_editable_and_known(
    sandbox: Sandbox, contract: UpstreamContract, pick: Any
) -> None:
    connection_id = sandbox.connect()
    calendar = pick(sandbox.calendars(connection_id))
    response = sandbox.client.patch(
        f"{API}/connections/{connection_id}",
        headers=auth(ADMIN_KEY, ALICE),
        json={"primaryCalendar": calendar},
    )
    assert response.status_code == 400
    contract.check_response(response)


def test_patch_body_that_is_not_an_object(sandbox: Sandbox, contract: UpstreamContract) -> None:
    connection_id = sandbox.connect()
    response = sandbox.client.patch(
        f"{API}/connections/{connection_id}", headers=auth(ADMIN_KEY, ALICE), json=["primary"]
    )
    assert response.status_code == 400
    contract.check_response(response)


@pytest.mark.parametrize(
    ("provider", "params"),
    [
        ("google", {"redirectUrl": "not-a-url"}),
        ("google", {"redirectUrl": "ftp://files.example.test/cb"}),
        ("google", {"setAsCalendarSync": "maybe"}),
        ("icloud", {"redirectUrl": APP_CALLBACK}),
    ],
    ids=["relative redirectUrl", "ftp redirectUrl", "setAsCalendarSync not boolean", "icloud"],
)
def test_auth_url_bad_request(
    sandbox: Sandbox, contract: UpstreamContract, provider: str, params: dict[str, str]
) -> None:
    response = sandbox.client.get(
        f"{API}/auth/{provider}/url", headers=auth(ADMIN_KEY, ALICE), params=params
    )
    assert response.status_code == 400
    contract.check_response(response)


# --- Rate limit and failures -----------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
def test_forced_rate_limit_is_429_without_retry_after(
    sandbox: Sandbox, contract: UpstreamContract, call: Call
) -> None:
    sandbox.set_faults(rate_limited=True)
    response = sandbox.send(call, headers=auth(ADMIN_KEY, ALICE))
    assert response.status_code == 429
    assert contract.check_response(response) == {
        "statusCode": 429,
        "message": "Too Many Requests",
        "error": "Too Many Requests",
    }
    assert "retry-after" not in response.headers


def test_forced_rate_limit_with_retry_after(sandbox: Sandbox, contract: UpstreamContract) -> None:
    sandbox.set_faults(rate_limited=True, retry_after=7)
    response = sandbox.client.get(f"{API}/connections", headers=auth(ADMIN_KEY, ALICE))
    assert response.status_code == 429
    contract.check_response(response)
    assert response.headers["retry-after"] == "7"


def test_exhausted_bucket_is_429(small_bucket_sandbox: Sandbox, contract: UpstreamContract) -> None:
    sandbox = small_bucket_sandbox
    answers = [
        sandbox.client.get(f"{API}/connections", headers=auth(MEMBER_KEY, BOB)) for _ in range(4)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    contract.check_response(answers[-1])
    assert "retry-after" not in answers[-1].headers


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
def test_server_failure(
    sandbox: Sandbox, contract: UpstreamContract, call: Call, status: int
) -> None:
    connection_id = sandbox.connect()
    sandbox.set_faults(error_rate=1.0, error_statuses=[status])
    response = sandbox.send(call, connection_id=connection_id, headers=auth(ADMIN_KEY, ALICE))
    assert response.status_code == status
    assert contract.check_response(response)["statusCode"] == status


def test_the_contract_rejects_a_truncated_body(
    sandbox: Sandbox, contract: UpstreamContract
) -> None:
    # The checker on the real wire: a sandbox fault that breaks the contract must be caught.
    sandbox.set_faults(malformed_json=True)
    response = sandbox.client.get(f"{API}/connections", headers=auth(ADMIN_KEY, ALICE))
    assert response.status_code == 200
    with pytest.raises(AssertionError, match="breaks the upstream contract"):
        contract.check_response(response)
    assert urlsplit(str(response.request.url)).path == f"{API}/connections"
