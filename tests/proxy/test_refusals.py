"""Requests the allowlist refuses: nothing reaches meetergo (the sandbox's log stays empty).

Path tricks are sent byte for byte over a socket to the service under uvicorn, as a hostile client
would send them: no client library normalises ``..``, decodes ``%2f`` or refuses a raw space.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.ops.paths import refused_raw_path
from app.session.sessions import SessionManager
from tests.proxy.support import (
    API,
    CONNECTION_ROUTES,
    GUARD,
    PATCH_BODY,
    ROUTE_METHODS,
    TLS,
    Bff,
    RawResponse,
    SandboxAdmin,
    assert_problem,
    cookie_value,
    proxy_settings,
    raw_request,
    ticket,
)
from tests.support.servers import RunningServer, serve

REFUSAL_CODES = {"validation_error", "not_found", "method_not_allowed", "invalid_path"}


@dataclass(frozen=True)
class Served:
    """The service on a real socket, and the Cookie header of a signed-in session."""

    server: RunningServer
    cookie: str

    def send(
        self,
        method: str,
        target: bytes,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        chunked: bool = False,
    ) -> RawResponse:
        sent = {**GUARD, "Cookie": self.cookie, **(headers or {})}
        if body and "Content-Type" not in sent:
            sent["Content-Type"] = "application/json"
        return raw_request(self.server, method, target, headers=sent, body=body, chunked=chunked)


@pytest.fixture(scope="module")
def served(sandbox_server: RunningServer) -> Iterator[Served]:
    app: FastAPI = create_app(proxy_settings(sandbox_server.url))
    sessions: SessionManager = app.state.sessions
    with serve(app) as server:
        with httpx.Client(base_url=server.url, verify=TLS, trust_env=False) as client:
            login = client.post("/auth/session", json={"ticket": ticket()}, headers=GUARD)
        assert login.status_code == 200, login.text
        value = cookie_value(login, sessions.codec.name)
        yield Served(server, f"{sessions.codec.name}={value}")


def connection_target(operation: str, connection_id: bytes) -> bytes:
    suffix = {"listCalendars": b"/calendars", "setPrimaryConnection": b"/set-primary"}
    return API.encode() + b"/connections/" + connection_id + suffix.get(operation, b"")


def body_of(operation: str) -> bytes:
    return json.dumps(PATCH_BODY).encode() if operation == "updateConnection" else b""


def assert_refused(response: RawResponse, sandbox: SandboxAdmin) -> None:
    """Refused by the service (or by the HTTP server before it), and meetergo saw nothing."""
    assert response.status in (400, 404, 405, 422), (response.status, response.body)
    if response.status != 400 or response.problem_code is not None:
        # A plain 400 is uvicorn (this harness's server) refusing a request line it cannot parse.
        assert response.problem_code in REFUSAL_CODES, response.body
    assert sandbox.requests() == []


# -- the harness reaches meetergo ----------------------------------------------------------------


@pytest.mark.parametrize("operation", CONNECTION_ROUTES)
def test_raw_request_with_a_plain_id_reaches_meetergo(
    served: Served, sandbox: SandboxAdmin, operation: str
) -> None:
    # The control for the tricks below: the same request with a well-formed id is sent on.
    target = connection_target(operation, b"conn-123_ABC")

    response = served.send(ROUTE_METHODS[operation], target, body=body_of(operation))

    assert response.problem_code == "not_found"  # meetergo's answer for an unknown id
    assert [entry["path"] for entry in sandbox.requests()] == [target.decode().removeprefix("/api")]


# -- encoded separators: refused before routing --------------------------------------------------

# Each of these would be routed as another call once decoded (``%2F`` becomes a path separator).
ENCODED_ROUTING: dict[str, tuple[str, bytes]] = {
    "id-slash-calendars": ("GET", API.encode() + b"/connections/conn-123%2fcalendars"),
    "id-slash-upper-calendars": ("GET", API.encode() + b"/connections/conn-123%2Fcalendars"),
    "id-slash-set-primary": ("POST", API.encode() + b"/connections/conn-123%2Fset-primary"),
    "encoded-slash-in-prefix": ("GET", b"/api%2Fv4/calendar-connections/connections"),
    "encoded-backslash": ("GET", API.encode() + b"/connections/conn-123%5Ccalendars"),
    "encoded-backslash-lower": ("GET", API.encode() + b"/connections%5cconn-123"),
    "encoded-dot-dot": ("GET", API.encode() + b"/connections/%2e%2e/connections"),
    "encoded-dot-dot-upper": ("GET", API.encode() + b"/connections/%2E%2E/connections"),
    "half-encoded-dot-dot": ("GET", API.encode() + b"/connections/.%2E/connections"),
    "encoded-dot": ("GET", API.encode() + b"/%2e/connections"),
    "on-auth": ("POST", b"/auth%2Flogout"),
    "on-connect": ("GET", b"/connect/google%2F..%2Fx"),
    "on-manage": ("POST", b"/manage/users/a%2Fb/revoke-sessions"),
}


@pytest.mark.parametrize(
    ("method", "target"), list(ENCODED_ROUTING.values()), ids=list(ENCODED_ROUTING)
)
def test_encoded_separator_in_the_raw_path_is_invalid_path_before_routing(
    served: Served, sandbox: SandboxAdmin, method: str, target: bytes
) -> None:
    response = served.send(method, target)

    assert response.status == 400, (response.status, response.body)
    assert response.problem_code == "invalid_path", response.body
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    "target",
    [b"/connections/conn-123%252Fcalendars", b"/connections/conn%2e1", b"/connections/%2e%2e%2e"],
    ids=["double-encoded", "dot-inside-an-id", "three-dots"],
)
def test_percent_signs_that_do_not_decode_to_a_separator_are_not_invalid_path(
    served: Served, sandbox: SandboxAdmin, target: bytes
) -> None:
    # Refused or not by the allowlist, but not as an encoded separator: the check is exact.
    response = served.send("GET", API.encode() + target)

    assert response.problem_code != "invalid_path", response.body
    assert_refused(response, sandbox)


def test_encoded_slashes_in_the_query_are_not_the_path(
    served: Served, sandbox: SandboxAdmin
) -> None:
    # Only the path is checked: a redirectUrl is encoded in the query, as browsers send it.
    target = API.encode() + b"/auth/google/url?redirectUrl=https%3A%2F%2Fbff.test%2Fdone"

    response = served.send("GET", target)

    assert response.status == 200, response.body
    assert len(sandbox.requests()) == 1


# -- connection ids ------------------------------------------------------------------------------

ID_TRICKS: dict[str, bytes] = {
    "dot-dot": b"..",
    "dot-dot-encoded": b"%2e%2e",
    "dot-dot-upper-encoded": b"%2E%2E",
    "dot-dot-half-encoded": b".%2e",
    "dot": b".",
    "dot-encoded": b"%2e",
    "trailing-dot": b"conn-1.",
    "inner-dot": b"conn.1",
    "slash-encoded-lower": b"conn%2fx",
    "slash-encoded-upper": b"conn%2Fx",
    "traversal-encoded": b"..%2f..%2f..%2fv4%2fusers",
    "backslash-encoded": b"conn%5cx",
    "backslash-encoded-upper": b"conn%5Cx",
    "backslash": b"conn\\x",
    "traversal-backslash": b"..\\..\\v4",
    "space": b"conn x",
    "space-encoded": b"conn%20x",
    "plus": b"conn+x",
    "nul-encoded": b"conn%00x",
    "crlf-encoded": b"conn%0d%0aX-Injected:%201",
    "tab-encoded": b"conn%09x",
    "del-encoded": b"conn%7f",
    "control-raw": b"conn\x01x",
    "unicode-encoded": b"caf%C3%A9",
    "unicode-raw": "caf\u00e9".encode(),
    "fullwidth-dots": "\uff0e\uff0e".encode(),
    "fullwidth-dots-encoded": b"%EF%BC%8E%EF%BC%8E",
    "129-chars": b"a" * 129,
    "5000-chars": b"a" * 5000,
    "semicolon": b"conn;x",
    "matrix-parameter": b"conn;userId=x",
    "question-encoded": b"conn%3FuserId=x",
    "hash-encoded": b"conn%23x",
    "double-encoded-slash": b"conn%252f..",
    "double-encoded-dots": b"%252e%252e",
    "bad-escape": b"conn%zz",
    "lone-percent": b"conn%",
    "leading-hyphen": b"-conn",
    "leading-underscore": b"_conn",
    "userinfo": b"conn@evil.test",
    "absolute-url": b"https:%2F%2Fevil.test%2Fx",
    "colon": b"conn:x",
    "tilde": b"~conn",
}


@pytest.mark.parametrize("trick", list(ID_TRICKS.values()), ids=list(ID_TRICKS))
@pytest.mark.parametrize("operation", CONNECTION_ROUTES)
def test_connection_id_trick_is_refused_without_upstream_request(
    served: Served, sandbox: SandboxAdmin, operation: str, trick: bytes
) -> None:
    target = connection_target(operation, trick)

    response = served.send(ROUTE_METHODS[operation], target, body=body_of(operation))

    assert_refused(response, sandbox)


def test_longest_allowed_connection_id_is_sent_on(served: Served, sandbox: SandboxAdmin) -> None:
    response = served.send("GET", connection_target("listCalendars", b"a" * 128))

    assert response.problem_code == "not_found"
    assert len(sandbox.requests()) == 1


SMUGGLED = {
    "query-after-id": b"conn?userId=x",
    "query-after-id-then-path": b"conn?x=/../../v4/users",
    "query-after-id-encoded-path": b"conn?x=%2f..%2f..%2fv4%2fusers",
}


@pytest.mark.parametrize("trick", list(SMUGGLED.values()), ids=list(SMUGGLED))
@pytest.mark.parametrize("operation", CONNECTION_ROUTES)
def test_query_smuggled_into_the_id_is_refused_without_upstream_request(
    served: Served, sandbox: SandboxAdmin, operation: str, trick: bytes
) -> None:
    target = connection_target(operation, trick)

    response = served.send(ROUTE_METHODS[operation], target, body=body_of(operation))

    assert_refused(response, sandbox)


@pytest.mark.parametrize("operation", CONNECTION_ROUTES)
def test_fragment_in_the_request_target_sends_at_most_the_plain_id_on(
    served: Served, sandbox: SandboxAdmin, operation: str
) -> None:
    # No browser sends a fragment; uvicorn drops it, so what is left is the id before it.
    target = connection_target(operation, b"conn#/../../v4/users")

    served.send(ROUTE_METHODS[operation], target, body=body_of(operation))

    paths = {entry["path"] for entry in sandbox.requests()}
    assert paths <= {"/v4/calendar-connections/connections/conn"}, paths


# -- providers -----------------------------------------------------------------------------------

PROVIDER_TRICKS: dict[str, bytes] = {
    "not-offered": b"icloud",
    "not-meetergos": b"evil",
    "upper-case": b"Google",
    "dot-dot": b"..",
    "dot-dot-encoded": b"%2e%2e",
    "slash-encoded": b"google%2f..",
    "nul-encoded": b"google%00",
    "trailing-dot": b"google.",
    "space-encoded": b"google%20",
    "empty": b"",
    "unicode": b"goo%C9%A1le",
}


@pytest.mark.parametrize("trick", list(PROVIDER_TRICKS.values()), ids=list(PROVIDER_TRICKS))
def test_provider_trick_is_refused_without_upstream_request(
    served: Served, sandbox: SandboxAdmin, trick: bytes
) -> None:
    response = served.send("GET", API.encode() + b"/auth/" + trick + b"/url")

    assert_refused(response, sandbox)


# -- routes that are not on the allowlist --------------------------------------------------------

UNKNOWN_ROUTES: list[bytes] = [
    b"/api/v4/calendar-connections/../../v4/users",
    b"/api/v4/calendar-connections/%2e%2e/%2e%2e/v4/users",
    b"/api/v4/calendar-connections/connections/..%2f..%2f..%2fv4%2fusers",
    b"/api/v4/calendar-connections/connections/../../../v4/users/me",
    b"/api/../v4/calendar-connections/connections",
    b"/api/v4/users",
    b"/api/v4/users/me",
    b"/api/v4/bookings",
    b"/api/v4/calendar-connections",
    b"/api/v4/calendar-connections/",
    b"/api/v4/calendar-connections/connections/conn-1/calendars/primary",
    b"/api/v4/calendar-connections/connections/conn-1/set-primary/x",
    b"/api/v4/calendar-connections/auth/google",
    b"/api/v4/calendar-connections/auth/google/url/extra",
    b"/api/v4/calendar-connections/connections;x",
    b"/api//v4/calendar-connections/connections",
    b"/api/v4//calendar-connections/connections",
    b"/api/V4/calendar-connections/connections",
    b"/api/v3/calendar-connections/connections",
    b"/api",
    b"/api/",
]


@pytest.mark.parametrize("target", UNKNOWN_ROUTES, ids=[t.decode() for t in UNKNOWN_ROUTES])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_route_under_the_api_is_not_found_without_upstream_request(
    served: Served, sandbox: SandboxAdmin, target: bytes, method: str
) -> None:
    response = served.send(method, target)

    if refused_raw_path(target):  # refused earlier, as an encoded separator
        assert (response.status, response.problem_code) == (400, "invalid_path")
    else:
        assert response.status in (404, 405), (response.status, response.body)
        assert response.problem_code in ("not_found", "method_not_allowed")
        if method == "GET":
            assert (response.status, response.problem_code) == (404, "not_found")
    assert sandbox.requests() == []


# A trailing slash on an allowlisted path is another path: no redirect to the one without it.
TRAILING_SLASHES = [
    ("GET", b"/api/v4/calendar-connections/connections/"),
    ("GET", b"/api/v4/calendar-connections/connections/conn-1/calendars/"),
    ("PATCH", b"/api/v4/calendar-connections/connections/conn-1/"),
    ("DELETE", b"/api/v4/calendar-connections/connections/conn-1/"),
    ("POST", b"/api/v4/calendar-connections/connections/conn-1/set-primary/"),
    ("GET", b"/api/v4/calendar-connections/auth/google/url/"),
]


@pytest.mark.parametrize(
    ("method", "target"), TRAILING_SLASHES, ids=[f"{m} {t.decode()}" for m, t in TRAILING_SLASHES]
)
def test_trailing_slash_variant_is_not_found_without_upstream_request(
    served: Served, sandbox: SandboxAdmin, method: str, target: bytes
) -> None:
    body = body_of("updateConnection") if method == "PATCH" else b""

    response = served.send(method, target, body=body)

    assert (response.status, response.problem_code) == (404, "not_found"), response.headers
    assert "location" not in response.headers
    assert sandbox.requests() == []


WRONG_METHODS = [
    ("PUT", b"/connections/conn-1"),
    ("POST", b"/connections/conn-1"),
    ("GET", b"/connections/conn-1"),
    ("POST", b"/connections"),
    ("DELETE", b"/connections"),
    ("PATCH", b"/connections"),
    ("GET", b"/connections/conn-1/set-primary"),
    ("DELETE", b"/connections/conn-1/calendars"),
    ("POST", b"/auth/google/url"),
    ("TRACE", b"/connections"),
    ("OPTIONS", b"/connections"),
]


@pytest.mark.parametrize(
    ("method", "path"), WRONG_METHODS, ids=[f"{m} {p.decode()}" for m, p in WRONG_METHODS]
)
def test_wrong_method_on_an_allowlisted_path_is_refused_without_upstream_request(
    served: Served, sandbox: SandboxAdmin, method: str, path: bytes
) -> None:
    response = served.send(method, API.encode() + path)

    assert response.status == 405, (response.status, response.body)
    assert response.problem_code == "method_not_allowed"
    assert sandbox.requests() == []


# -- PATCH bodies --------------------------------------------------------------------------------

BAD_FIELDS: dict[str, dict[str, Any]] = {
    "unknown-field": {"foo": 1},
    "unknown-next-to-valid": {"validateAvailability": True, "foo": 1},
    "snake-case-name": {"validate_availability": True},
    "capitalised-name": {"ValidateAvailability": True},
    "read-only-field": {"isPrimary": True},
    "id-field": {"id": "other-connection"},
    "string-for-bool": {"validateAvailability": "false"},
    "true-string-for-bool": {"cancelIfDeclinedOrDeleted": "true"},
    "number-for-bool": {"disableAttendeeNotification": 1},
    "zero-for-bool": {"syncBuffersToCalendar": 0},
    "number-for-string": {"primaryCalendar": 5},
    "bool-for-string": {"primaryCalendar": True},
    "list-for-string": {"primaryCalendar": ["primary"]},
    "object-for-string": {"primaryCalendar": {"id": "primary"}},
    "string-for-list": {"selectedCalendars": "primary"},
    "number-in-list": {"selectedCalendars": ["primary", 5]},
    "null-in-list": {"selectedCalendars": [None]},
    "object-in-list": {"selectedCalendars": [{"id": "primary"}]},
    "nested-list": {"selectedCalendars": [["primary"]]},
    "101-calendars": {"selectedCalendars": [f"calendar-{i}" for i in range(101)]},
    "empty-calendar-id": {"primaryCalendar": ""},
    "calendar-id-over-1024": {"primaryCalendar": "c" * 1025},
    "empty-object": {},
    "null-string-field": {"primaryCalendar": None},
    "null-bool-field": {"validateAvailability": None},
    "null-list-field": {"selectedCalendars": None},
    "null-next-to-valid": {"validateAvailability": True, "primaryCalendar": None},
}


@pytest.mark.parametrize("body", list(BAD_FIELDS.values()), ids=list(BAD_FIELDS))
def test_patch_body_with_wrong_fields_is_refused_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, body: dict[str, Any]
) -> None:
    response = bff.operation("updateConnection", "conn-1", json_body=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"], problem
    assert sandbox.requests() == []


def test_patch_with_100_calendars_is_sent_on(bff: Bff, sandbox: SandboxAdmin) -> None:
    body = {"selectedCalendars": [f"calendar-{i}" for i in range(100)]}

    bff.operation("updateConnection", "conn-1", json_body=body)

    assert sandbox.only_request()["body"] == body


NOT_AN_OBJECT: dict[str, bytes] = {
    "form-encoded": b"validateAvailability=false",
    "truncated": b'{"validateAvailability": fal',
    "array": b'[{"validateAvailability": false}]',
    "string": b'"validateAvailability"',
    "null": b"null",
    "number": b"1",
    "true": b"true",
    "nan": b'{"primaryCalendar": NaN}',
    "two-documents": b'{"validateAvailability": false}{"userId": "x"}',
    "trailing-garbage": b'{"validateAvailability": false} x',
    "whitespace-only": b"   ",
}


INVALID_UTF8 = b'{"primaryCalendar": "\xff\xfe"}'


@pytest.mark.parametrize("raw", list(NOT_AN_OBJECT.values()), ids=list(NOT_AN_OBJECT))
def test_patch_body_that_is_not_a_json_object_is_refused_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, raw: bytes
) -> None:
    response = bff.call(
        "PATCH",
        f"{API}/connections/conn-1",
        content=raw,
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 422, "validation_error")
    assert sandbox.requests() == []


def test_patch_body_that_is_not_utf8_is_refused_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    response = bff.call(
        "PATCH",
        f"{API}/connections/conn-1",
        content=INVALID_UTF8,
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 422, "validation_error")
    assert sandbox.requests() == []


def test_patch_without_a_body_is_refused_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    response = bff.call(
        "PATCH", f"{API}/connections/conn-1", headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 422, "validation_error")
    assert sandbox.requests() == []


WRONG_MEDIA_TYPES = [
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/jsonx",
    "application/xml",
    "",
]


@pytest.mark.parametrize("media_type", WRONG_MEDIA_TYPES)
@pytest.mark.parametrize("operation", ["updateConnection", "setPrimaryConnection"])
def test_body_of_another_media_type_is_unsupported_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, operation: str, media_type: str
) -> None:
    suffix = "/set-primary" if operation == "setPrimaryConnection" else ""
    response = bff.call(
        ROUTE_METHODS[operation],
        f"{API}/connections/conn-1{suffix}",
        content=json.dumps(PATCH_BODY).encode(),
        headers={"Content-Type": media_type},
    )

    assert_problem(response, 415, "unsupported_media_type")
    assert sandbox.requests() == []


def test_patch_without_content_type_is_unsupported_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    response = bff.call(
        "PATCH", f"{API}/connections/conn-1", content=json.dumps(PATCH_BODY).encode()
    )

    assert_problem(response, 415, "unsupported_media_type")
    assert sandbox.requests() == []


@pytest.mark.parametrize("media_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_media_type_with_parameters_or_case_is_accepted(
    bff: Bff, sandbox: SandboxAdmin, media_type: str
) -> None:
    bff.call(
        "PATCH",
        f"{API}/connections/conn-1",
        content=json.dumps(PATCH_BODY).encode(),
        headers={"Content-Type": media_type},
    )

    assert sandbox.only_request()["body"] == PATCH_BODY


OVERSIZED = {
    "valid-json-padded": b'{"validateAvailability": false' + b" " * (16 * 1024) + b"}",
    "many-calendars": json.dumps({"selectedCalendars": ["c" * 1000] * 17}).encode(),
    "one-megabyte": b'{"primaryCalendar": "' + b"x" * (1024 * 1024) + b'"}',
}


@pytest.mark.parametrize("raw", list(OVERSIZED.values()), ids=list(OVERSIZED))
def test_body_over_16_kib_is_too_large_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, raw: bytes
) -> None:
    response = bff.call(
        "PATCH",
        f"{API}/connections/conn-1",
        content=raw,
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 413, "payload_too_large")
    assert sandbox.requests() == []


def test_body_of_exactly_16_kib_is_not_too_large(bff: Bff, sandbox: SandboxAdmin) -> None:
    head = b'{"validateAvailability": false'
    raw = head + b" " * (16 * 1024 - len(head) - 1) + b"}"

    bff.call(
        "PATCH",
        f"{API}/connections/conn-1",
        content=raw,
        headers={"Content-Type": "application/json"},
    )

    assert sandbox.only_request()["body"] == PATCH_BODY


def test_chunked_body_without_length_is_refused_without_upstream_request(
    served: Served, sandbox: SandboxAdmin
) -> None:
    target = connection_target("updateConnection", b"conn-1")

    response = served.send("PATCH", target, body=body_of("updateConnection"), chunked=True)

    assert response.status == 411, response.body
    assert response.problem_code == "length_required"
    assert sandbox.requests() == []
