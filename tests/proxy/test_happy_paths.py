"""Each allowlisted route, through the service to the sandbox and back, over real sockets.

Success bodies are compared byte for byte with what the sandbox answers the same user directly
(the service's key, the user's id): the SPA reads exactly meetergo's answer.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.connect.flows import FLOW_COOKIE_SECURE, FLOW_MAX_AGE, FlowClaims, FlowCodec
from app.connect.store import FlowStore
from app.upstream.table import ROUTES
from sandbox.seed import ALICE_ID, BOB_ID
from tests.proxy.conftest import MakeBff
from tests.proxy.support import (
    BASE_URL,
    OPERATIONS,
    ROUTE_METHODS,
    ROUTE_PATHS,
    Bff,
    EditingTransport,
    SandboxAdmin,
    api_path,
    compact,
    upstream_path,
)

RETURN_TO = f"{BASE_URL}/settings/calendars?tab=connections"


def flows_of(bff: Bff) -> FlowCodec:
    flows: FlowCodec = bff.app.state.flows
    return flows


def flow_record(bff: Bff, token: str) -> FlowClaims | None:
    """What the service recorded of the flow whose token is ``token``."""
    key = flows_of(bff).read_token(token)
    if key is None:
        return None
    store: FlowStore = bff.app.state.flow_store
    portal = bff.client.portal
    assert portal is not None
    return portal.call(store.load, key)


def token_payload(token: str) -> bytes:
    """What a flow token says, read without its key: whatever an eavesdropper can read."""
    encoded = token.split(".", maxsplit=1)[0]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def flow_ids_in_cookie(bff: Bff, value: str) -> list[str]:
    """The flows a flow cookie names (the cookie's format belongs to app.connect)."""
    return list(flows_of(bff).browser_flows(value))


def set_cookie_attributes(header: str) -> tuple[str, str, dict[str, str]]:
    first, *rest = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    attributes = {}
    for part in rest:
        key, _, attribute = part.partition("=")
        attributes[key.lower()] = attribute
    return name, value, attributes


# -- getAuthUrl ----------------------------------------------------------------------------------


def test_auth_url_answer_is_meetergos_body_byte_for_byte(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    tap = EditingTransport()
    bff = make_bff(transport=tap)

    response = bff.operation(
        "getAuthUrl", params={"setAsCalendarSync": "true", "redirectUrl": RETURN_TO}
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    # The flow's connection-list snapshot first (app/connect/begin.py), then the auth URL.
    assert len(tap.bodies) == 2
    assert tap.bodies[-1] == response.content
    body = response.json()
    assert body["provider"] == "google"
    assert body["authUrl"].startswith(f"{sandbox.url}/consent/google?state=")


@pytest.mark.parametrize("provider", ["google", "outlook"])
@pytest.mark.parametrize("return_to", [RETURN_TO, None], ids=["client-redirect", "no-redirect"])
@pytest.mark.parametrize("calendar_sync", ["true", "false"])
def test_meetergo_is_sent_to_the_service_callback_never_to_the_client_url(
    bff: Bff, sandbox: SandboxAdmin, provider: str, return_to: str | None, calendar_sync: str
) -> None:
    params = {"setAsCalendarSync": calendar_sync}
    if return_to is not None:
        params["redirectUrl"] = return_to

    response = bff.operation("getAuthUrl", provider=provider, params=params)

    assert response.status_code == 200, response.text
    flow_id = response.headers["X-Flow-ID"]
    seen = sandbox.only_request()
    assert seen["method"] == "GET"
    assert seen["path"] == upstream_path("getAuthUrl", provider=provider)
    query = dict(seen["query"])
    assert len(seen["query"]) == len(query) == 2, seen["query"]
    assert query["setAsCalendarSync"] == calendar_sync
    callback_prefix = f"{BASE_URL}/connect/callback/"
    assert query["redirectUrl"].startswith(callback_prefix)
    assert return_to is None or return_to not in str(seen)
    token = query["redirectUrl"].removeprefix(callback_prefix)
    claims = flow_record(bff, token)
    assert claims is not None, "meetergo must get a genuine flow token in the callback path"
    assert (claims.flow_id, claims.provider, claims.return_to) == (flow_id, provider, return_to)
    assert claims.meetergo_user_id == ALICE_ID
    # The token itself is opaque: no user id, session hash, flow id or return URL in clear.
    readable = token_payload(token)
    for secret in (ALICE_ID, claims.session, flow_id, return_to or "https://"):
        assert secret.encode() not in readable, readable


def test_auth_url_without_parameters_sends_meetergo_only_the_callback(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    response = bff.operation("getAuthUrl")

    assert response.status_code == 200, response.text
    query = sandbox.only_request()["query"]
    assert [name for name, _ in query] == ["redirectUrl"]
    assert query[0][1].startswith(f"{BASE_URL}/connect/callback/")


def test_redirect_url_on_a_configured_app_origin_is_the_return_target(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    bff = make_bff(app_origins=["https://app.test", "https://admin.app.test"])
    return_to = "https://admin.app.test/calendars"

    response = bff.operation("getAuthUrl", params={"redirectUrl": return_to})

    assert response.status_code == 200, response.text
    sent = dict(sandbox.only_request()["query"])["redirectUrl"]
    assert sent.startswith(f"{BASE_URL}/connect/callback/")  # the service's own callback
    claims = flow_record(bff, sent.rsplit("/", 1)[1])
    assert claims is not None
    assert claims.return_to == return_to


def test_auth_url_sets_the_flow_cookie_that_names_the_flow(bff: Bff) -> None:
    response = bff.operation("getAuthUrl", params={"redirectUrl": RETURN_TO})

    assert response.status_code == 200, response.text
    flows = [
        set_cookie_attributes(header)
        for header in response.headers.get_list("set-cookie")
        if header.startswith(FLOW_COOKIE_SECURE + "=")
    ]
    assert len(flows) == 1, response.headers.get_list("set-cookie")
    _, value, attributes = flows[0]
    assert flow_ids_in_cookie(bff, value) == [response.headers["X-Flow-ID"]]
    assert attributes["path"] == "/"
    assert attributes["max-age"] == str(FLOW_MAX_AGE)
    assert attributes["samesite"] == "Lax"
    assert {"httponly", "secure"} <= set(attributes)


def test_consent_from_the_auth_url_returns_to_the_service_callback(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    response = bff.operation("getAuthUrl", params={"redirectUrl": RETURN_TO})
    assert response.status_code == 200, response.text

    landed = sandbox.consent(response.json()["authUrl"], email="alice@gmail.example")

    parts = urlsplit(landed)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL
    assert parts.path.startswith("/connect/callback/")
    result = dict(parse_qsl(parts.query))
    assert result["success"] == "true"
    listed = bff.operation("listConnections").json()["connections"]
    assert [c["id"] for c in listed] == [result["connectionId"]]


# -- reads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2])
def test_list_connections_is_meetergos_answer_for_the_same_user_byte_for_byte(
    bff: Bff, sandbox: SandboxAdmin, count: int
) -> None:
    for index in range(count):
        sandbox.connect(f"alice{index}@gmail.example")
    sandbox.connect("bob@gmail.example", user=BOB_ID)  # another user's: never listed for Alice

    response = bff.operation("listConnections")

    direct = sandbox.direct("GET", upstream_path("listConnections"))
    assert response.status_code == 200, response.text
    assert response.content == direct.content
    assert response.json()["total"] == count
    assert response.headers["content-type"] == "application/json"


def test_list_connections_of_another_mapped_user_is_that_users_answer(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    sandbox.connect("bob@gmail.example", user=BOB_ID)
    bob = make_bff(meetergo_user_id=BOB_ID)

    response = bob.operation("listConnections")

    direct = sandbox.direct("GET", upstream_path("listConnections"), user=BOB_ID)
    assert response.status_code == 200, response.text
    assert response.content == direct.content
    assert response.json()["total"] == 1


@pytest.mark.parametrize("provider", ["google", "outlook"])
def test_list_calendars_is_meetergos_answer_byte_for_byte(
    bff: Bff, sandbox: SandboxAdmin, provider: str
) -> None:
    connection = sandbox.connect("alice@work.example", provider=provider)

    response = bff.operation("listCalendars", connection)

    direct = sandbox.direct("GET", upstream_path("listCalendars", connection))
    assert response.status_code == 200, response.text
    assert response.content == direct.content
    assert len(response.json()["calendars"]) == 3


# -- writes --------------------------------------------------------------------------------------


def test_update_connection_answers_meetergos_updated_connection_byte_for_byte(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    tap = EditingTransport()
    bff = make_bff(transport=tap)
    connection = sandbox.connect("alice@gmail.example")
    calendars = sandbox.calendar_ids(connection)
    change = {
        "primaryCalendar": calendars["Work"],
        "selectedCalendars": [calendars["Calendar"], calendars["Work"]],
        "validateAvailability": False,
        "cancelIfDeclinedOrDeleted": False,
        "disableAttendeeNotification": True,
        "syncBuffersToCalendar": True,
    }

    response = bff.operation("updateConnection", connection, json_body=change)

    assert response.status_code == 200, response.text
    assert tap.bodies == [response.content]
    stored = sandbox.direct("GET", upstream_path("listConnections")).json()["connections"][0]
    assert response.content == compact(stored)  # what meetergo holds now, as it renders it
    assert {name: stored[name] for name in change} == change


def test_delete_connection_stays_204_with_an_empty_body(bff: Bff, sandbox: SandboxAdmin) -> None:
    keep = sandbox.connect("alice@gmail.example")
    gone = sandbox.connect("alice@work.example")

    response = bff.operation("deleteConnection", gone)

    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    assert response.headers.get("content-length", "0") == "0"
    seen = sandbox.only_request()
    assert (seen["method"], seen["path"]) == ("DELETE", upstream_path("deleteConnection", gone))
    remaining = sandbox.direct("GET", upstream_path("listConnections")).json()["connections"]
    assert [c["id"] for c in remaining] == [keep]


def test_set_primary_answers_meetergos_connection_byte_for_byte(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    first = sandbox.connect("alice@gmail.example")
    second = sandbox.connect("alice@work.example")

    response = bff.operation("setPrimaryConnection", second)

    assert response.status_code == 200, response.text
    # Setting the primary again changes nothing, so meetergo's direct answer is the same bytes.
    direct = sandbox.direct("POST", upstream_path("setPrimaryConnection", second))
    assert response.content == direct.content
    listed = sandbox.direct("GET", upstream_path("listConnections")).json()["connections"]
    assert {c["id"]: c["isPrimary"] for c in listed} == {first: False, second: True}


def test_every_route_is_served_under_the_api_prefix_with_meetergos_path(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    connection = sandbox.connect("alice@gmail.example")
    calls = [
        ("GET", api_path("listConnections"), None),
        ("GET", api_path("listCalendars", connection), None),
        ("PATCH", api_path("updateConnection", connection), {"validateAvailability": True}),
        ("POST", api_path("setPrimaryConnection", connection), None),
        ("DELETE", api_path("deleteConnection", connection), None),
    ]

    for method, path, body in calls:
        response = bff.call(method, path, json=body) if body else bff.call(method, path)
        assert response.status_code in (200, 204), response.text

    seen = [(entry["method"], "/api" + entry["path"]) for entry in sandbox.requests()]
    assert seen == [(method, path) for method, path, _ in calls]


def test_the_allowlist_is_exactly_these_six_operations() -> None:
    # The tests name meetergo's paths themselves; a route added to the table must be added here.
    assert {(r.operation_id, r.method, r.path) for r in ROUTES} == {
        (operation, ROUTE_METHODS[operation], ROUTE_PATHS[operation]) for operation in OPERATIONS
    }
