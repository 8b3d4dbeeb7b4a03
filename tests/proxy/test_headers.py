"""What meetergo receives, proven from the sandbox's request log, and what comes back from it.

The browser's headers never cross; the service sends its own key, the signed-in user's mapped
meetergo id, its User-Agent and the request id. ``userId`` (meetergo's act-as-another-user
parameter) is refused before anything is sent, however it is spelled or repeated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import __version__
from sandbox.seed import ALICE_ID, BOB_ID
from tests.proxy.conftest import MakeBff
from tests.proxy.support import (
    OPERATIONS,
    ROUTE_METHODS,
    Bff,
    EditingTransport,
    SandboxAdmin,
    api_path,
    assert_problem,
    body_for,
    upstream_path,
)

MARK = "zq7-browser-mark"
CLIENT_IP = "203.0.113.77"
SERVICE_AUTHORIZATION = "Bearer ak_live:7f3e1a52-0000-4000-8000-000000000002:***"
USER_AGENT = f"meetergo-calendar-bff/{__version__}"
# Every header meetergo may see: the service's own, and what its HTTP client always adds.
SERVICE_HEADERS = {
    "host",
    "accept",
    "accept-encoding",
    "connection",
    "user-agent",
    "authorization",
    "x-meetergo-api-user-id",
    "x-request-id",
    "content-type",
    "content-length",
}
BROWSER_HEADERS = {
    "Authorization": f"Bearer {MARK}",
    "x-meetergo-api-user-id": BOB_ID,
    "X-Meetergo-Anything": MARK,
    "X-Meetergo-Api-Key": MARK,
    "Connection": f"keep-alive, X-Hop-{MARK}",
    f"X-Hop-{MARK}": MARK,
    "Keep-Alive": f"timeout=5, {MARK}",
    "Proxy-Authorization": f"Basic {MARK}",
    "Proxy-Connection": MARK,
    "TE": f"trailers, {MARK}",
    "Trailer": f"X-{MARK}",
    "Upgrade": f"{MARK}/1",
    "X-Forwarded-For": f"{CLIENT_IP}, {MARK}",
    "X-Forwarded-Host": f"{MARK}.evil.test",
    "X-Forwarded-Proto": MARK,
    "X-Real-IP": CLIENT_IP,
    "Forwarded": f"for={CLIENT_IP};host={MARK}",
    "Via": f"1.1 {MARK}",
    "User-Agent": f"Mozilla/5.0 {MARK}",
    "Referer": f"https://bff.test/{MARK}",
    "Accept-Language": f"de-{MARK}",
    "X-HTTP-Method-Override": "PUT",
    "X-Api-Key": MARK,
}


def connection_for(operation: str, sandbox: SandboxAdmin) -> str:
    return sandbox.connect("alice@gmail.example") if operation != "getAuthUrl" else ""


def leaked(entry: dict[str, Any], *needles: str) -> list[str]:
    text = json.dumps(entry).lower()
    return [needle for needle in needles if needle.lower() in text]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_browser_headers_never_reach_meetergo(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = connection_for(operation, sandbox)
    bff.extra_cookies[f"cookie-{MARK}"] = MARK

    response = bff.operation(operation, connection, headers=BROWSER_HEADERS)

    assert response.status_code in (200, 204), response.text
    seen = sandbox.only_request()
    headers = seen["headers"]
    assert set(headers) <= SERVICE_HEADERS, sorted(set(headers) - SERVICE_HEADERS)
    assert leaked(seen, MARK, CLIENT_IP, "x-csrf", "mbff") == []
    assert leaked(headers, "bff.test") == []  # (the callback URL in getAuthUrl's query has it)
    assert "cookie" not in headers
    assert headers["authorization"] == SERVICE_AUTHORIZATION
    assert headers["x-meetergo-api-user-id"] == ALICE_ID  # one value: the session's, not Bob
    assert headers["user-agent"] == USER_AGENT
    assert headers["connection"] == "keep-alive"  # the service's own connection to meetergo
    assert seen["method"] == response.request.method  # no method override


@pytest.mark.parametrize("operation", OPERATIONS)
def test_meetergo_gets_the_service_key_the_user_agent_and_the_mapped_user(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = connection_for(operation, sandbox)

    response = bff.operation(operation, connection)

    assert response.status_code in (200, 204), response.text
    headers = sandbox.only_request()["headers"]
    assert headers["authorization"] == SERVICE_AUTHORIZATION
    assert headers["user-agent"] == USER_AGENT
    assert headers["x-meetergo-api-user-id"] == ALICE_ID
    assert headers["accept"] == "application/json"


def test_user_mapped_by_the_mapping_file_is_the_user_meetergo_gets(
    make_bff: MakeBff, sandbox: SandboxAdmin, tmp_path: Path
) -> None:
    mapping = tmp_path / "users.json"
    mapping.write_text(json.dumps({"app-user-alice": BOB_ID.upper()}), encoding="utf-8")
    sandbox.connect("bob@gmail.example", user=BOB_ID)
    bob = make_bff(user_mapping="file", user_mapping_file=str(mapping), meetergo_user_id=None)

    response = bob.operation("listConnections")

    assert response.status_code == 200, response.text
    assert response.json()["total"] == 1
    assert sandbox.only_request()["headers"]["x-meetergo-api-user-id"] == BOB_ID


REQUEST_IDS = {
    "none": None,
    "well-formed": "spa-4f1c2e9a7b3d",
    "malformed": "not a good id",
    "too-long": "x" * 200,
}


@pytest.mark.parametrize("sent", list(REQUEST_IDS.values()), ids=list(REQUEST_IDS))
@pytest.mark.parametrize("operation", ["listConnections", "updateConnection"])
def test_request_id_meetergo_gets_is_the_responses(
    bff: Bff, sandbox: SandboxAdmin, operation: str, sent: str | None
) -> None:
    connection = sandbox.connect("alice@gmail.example")
    headers = {} if sent is None else {"X-Request-ID": sent}

    response = bff.operation(operation, connection, headers=headers)

    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]
    assert sandbox.only_request()["headers"]["x-request-id"] == request_id
    if sent == REQUEST_IDS["well-formed"]:
        assert request_id == sent
    else:
        assert request_id != sent


def test_request_id_of_an_error_is_the_one_meetergo_got(bff: Bff, sandbox: SandboxAdmin) -> None:
    response = bff.operation("listCalendars", "no-such-connection")

    problem = assert_problem(response, 404, "not_found")
    assert sandbox.only_request()["headers"]["x-request-id"] == problem["requestId"]


# -- the PATCH body ------------------------------------------------------------------------------

PATCHES = {
    "one-bool": {"validateAvailability": False},
    "every-bool": {
        "validateAvailability": True,
        "cancelIfDeclinedOrDeleted": False,
        "disableAttendeeNotification": True,
        "syncBuffersToCalendar": False,
    },
    "calendars": {"primaryCalendar": "primary", "selectedCalendars": ["primary"]},
    "no-calendars-selected": {"selectedCalendars": []},
    "unicode-calendar-id": {"primaryCalendar": "Kalender-\u00e4\u00f6\u00fc-\u65e5\u672c"},
    "unusual-but-valid-id": {"selectedCalendars": ["a/b?c#d", "..", "%2e%2e"]},
}


@pytest.mark.parametrize("body", list(PATCHES.values()), ids=list(PATCHES))
def test_patch_meetergo_gets_exactly_the_validated_fields_as_json(
    bff: Bff, sandbox: SandboxAdmin, body: dict[str, Any]
) -> None:
    connection = sandbox.connect("alice@gmail.example")

    bff.operation("updateConnection", connection, json_body=body)

    seen = sandbox.only_request()
    assert seen["method"] == "PATCH"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["body"] == body
    assert seen["query"] == []


@pytest.mark.parametrize("operation", ["listConnections", "deleteConnection", "getAuthUrl"])
def test_bodyless_calls_send_meetergo_no_body_and_no_content_type(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = connection_for(operation, sandbox)

    bff.operation(operation, connection)

    seen = sandbox.only_request()
    assert seen["body"] is None
    assert "content-type" not in seen["headers"]


# -- userId, however it is sent ------------------------------------------------------------------

USER_ID_QUERIES = {
    "plain": f"userId={BOB_ID}",
    "empty": "userId=",
    "bare": "userId",
    "repeated": f"userId={BOB_ID}&userId={ALICE_ID}",
    "own-id": f"userId={ALICE_ID}",
    "lower-case": f"userid={BOB_ID}",
    "upper-case": f"USERID={BOB_ID}",
    "percent-encoded-name": f"user%49d={BOB_ID}",
    "array-style": f"userId[]={BOB_ID}",
    "after-a-valid-param": f"setAsCalendarSync=true&userId={BOB_ID}",
    "unknown-param": "foo=bar",
}


@pytest.mark.parametrize("query", list(USER_ID_QUERIES.values()), ids=list(USER_ID_QUERIES))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_user_id_in_the_query_is_refused_on_every_route_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, operation: str, query: str
) -> None:
    connection = connection_for(operation, sandbox)
    path = api_path(operation, connection) + "?" + query
    body = body_for(operation)

    response = bff.call(ROUTE_METHODS[operation], path, **({"json": body} if body else {}))

    assert_problem(response, 422, "validation_error")
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    "query",
    [
        "setAsCalendarSync=true&setAsCalendarSync=false",
        "setAsCalendarSync=true&setAsCalendarSync=true",
        "redirectUrl=https://bff.test/a&redirectUrl=https://bff.test/b",
        "setAsCalendarSync=yes",
        "setAsCalendarSync=TRUE",
        "setAsCalendarSync=1",
        "setAsCalendarSync=true;userId=x",
        "redirectUrl=",
    ],
)
def test_auth_url_query_that_is_repeated_or_malformed_is_refused_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, query: str
) -> None:
    response = bff.call("GET", api_path("getAuthUrl") + "?" + query)

    assert_problem(response, 422, "validation_error")
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    "body",
    [
        {"userId": BOB_ID, "validateAvailability": False},
        {"validateAvailability": False, "userid": BOB_ID},
        {"user_id": BOB_ID, "validateAvailability": False},
        {"validateAvailability": False, "x-meetergo-api-user-id": BOB_ID},
    ],
)
def test_user_id_in_the_patch_body_is_refused_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, body: dict[str, Any]
) -> None:
    connection = sandbox.connect("alice@gmail.example")

    response = bff.operation("updateConnection", connection, json_body=body)

    assert_problem(response, 422, "validation_error")
    assert sandbox.requests() == []


@pytest.mark.parametrize("operation", ["deleteConnection", "setPrimaryConnection"])
def test_user_id_in_the_body_of_a_call_without_one_is_refused_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = sandbox.connect("alice@gmail.example")

    response = bff.operation(operation, connection, json_body={"userId": BOB_ID})

    assert_problem(response, 422, "validation_error")
    assert sandbox.requests() == []
    assert len(sandbox.direct("GET", upstream_path("listConnections")).json()["connections"]) == 1


# -- what comes back -----------------------------------------------------------------------------


def add_set_cookie(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    del response
    return [
        (b"set-cookie", b"meetergo_session=upstream-secret; Path=/; HttpOnly"),
        (b"set-cookie", b"__Host-Http-mbff_session=forged; Path=/; Secure; HttpOnly"),
    ]


@pytest.mark.parametrize("operation", ["listConnections", "getAuthUrl", "deleteConnection"])
def test_upstream_set_cookie_never_reaches_the_browser(
    make_bff: MakeBff, sandbox: SandboxAdmin, operation: str
) -> None:
    # The sandbox never sets cookies: its real answers get two on the way back.
    bff = make_bff(transport=EditingTransport(add_set_cookie))
    connection = connection_for(operation, sandbox)

    response = bff.operation(operation, connection)

    assert response.status_code in (200, 204), response.text
    cookies = response.headers.get_list("set-cookie")
    assert not [c for c in cookies if "upstream-secret" in c or "forged" in c], cookies


def test_upstream_set_cookie_is_never_sent_back_to_meetergo(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    # One shared client talks to meetergo for every user: a cookie it kept would be replayed for
    # the next user too.
    bff = make_bff(transport=EditingTransport(add_set_cookie))

    for _ in range(2):
        assert bff.operation("listConnections").status_code == 200

    assert [entry["headers"].get("cookie") for entry in sandbox.requests()] == [None, None]


def test_upstream_response_headers_are_not_passed_through(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    def add_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
        del response
        return [
            (b"x-upstream-internal", b"node-7"),
            (b"access-control-allow-origin", b"*"),
            (b"location", b"https://evil.test/"),
            (b"cache-control", b"public, max-age=3600"),
        ]

    bff = make_bff(transport=EditingTransport(add_headers))

    response = bff.operation("listConnections")

    assert response.status_code == 200, response.text
    assert "x-upstream-internal" not in response.headers
    assert "access-control-allow-origin" not in response.headers
    assert "location" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert len(sandbox.requests()) == 1


def test_flow_id_is_readable_by_an_spa_on_another_app_origin(make_bff: MakeBff) -> None:
    bff = make_bff(app_origins=["https://app.test"])  # bff calls from https://app.test

    response = bff.operation("getAuthUrl")

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "https://app.test"
    exposed = response.headers.get("access-control-expose-headers", "").lower()
    assert "x-flow-id" in [name.strip() for name in exposed.split(",")]
