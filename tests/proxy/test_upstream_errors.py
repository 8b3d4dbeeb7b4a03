"""meetergo's documented errors reach the browser as problem+json with their stable codes."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from email.utils import formatdate

import httpx
import pytest
from pydantic import SecretStr

from app.config import PERSONAL_TOKEN_PREFIX
from sandbox.seed import ALICE_ID, ALICE_PERSONAL_TOKEN, BOB_ID, EXPIRED_KEY, MALLORY_ID
from tests.proxy.conftest import MakeBff
from tests.proxy.support import (
    CONNECTION_ROUTES,
    OPERATIONS,
    Bff,
    EditingTransport,
    SandboxAdmin,
    assert_problem,
    proxy_settings,
    running_bff,
    running_sandbox,
    upstream_path,
)
from tests.support.servers import RunningServer

UNKNOWN_ID = "0d6f2a4e-8b1c-4e3f-9a7d-5c2b1e0f9a88"
WRONG_KEY = "ak_live:7f3e1a52-0000-4000-8000-000000000009:wrong-secret-Qv7Lk2Zp"


@pytest.fixture(scope="module")
def small_bucket_sandbox() -> Iterator[RunningServer]:
    # A bucket of 3 that refills one token a minute: the 4th request in a row is over the limit.
    with running_sandbox(rate_limit_burst=3, rate_limit_per_minute=1) as server:
        yield server


@pytest.fixture(scope="module")
def string_form_sandbox() -> Iterator[RunningServer]:
    # Validation errors in meetergo's reference form: "Validation failed" plus errors[].
    with running_sandbox(validation_message_form="string") as server:
        yield server


# -- unknown connections -------------------------------------------------------------------------


@pytest.mark.parametrize("operation", CONNECTION_ROUTES)
def test_unknown_connection_is_not_found(bff: Bff, sandbox: SandboxAdmin, operation: str) -> None:
    response = bff.operation(operation, UNKNOWN_ID)

    assert_problem(response, 404, "not_found")
    assert sandbox.only_request()["path"] == upstream_path(operation, UNKNOWN_ID)


@pytest.mark.parametrize("operation", CONNECTION_ROUTES)
def test_another_users_connection_is_not_found(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    bobs = sandbox.connect("bob@gmail.example", user=BOB_ID)

    assert_problem(bff.operation(operation, bobs), 404, "not_found")
    still = sandbox.direct("GET", upstream_path("listConnections"), user=BOB_ID).json()
    assert [c["id"] for c in still["connections"]] == [bobs]


# -- PATCH refused by meetergo -------------------------------------------------------------------


def refused_patches(calendars: dict[str, str]) -> dict[str, tuple[dict[str, object], list[str]]]:
    return {
        "unknown-primary": (
            {"primaryCalendar": "no-such-calendar"},
            ["primaryCalendar must be a calendar of this connection"],
        ),
        "read-only-primary": (
            {"primaryCalendar": calendars["Holidays"]},
            ["primaryCalendar must be a calendar that can be edited"],
        ),
        "unknown-selected": (
            {"selectedCalendars": [calendars["Calendar"], "no-such-calendar"]},
            ["selectedCalendars must only contain calendars of this connection"],
        ),
        "both": (
            {"primaryCalendar": "nope", "selectedCalendars": ["nope"]},
            [
                "primaryCalendar must be a calendar of this connection",
                "selectedCalendars must only contain calendars of this connection",
            ],
        ),
    }


REFUSED = ["unknown-primary", "read-only-primary", "unknown-selected", "both"]


@pytest.mark.parametrize("case", REFUSED)
def test_patch_meetergo_refuses_is_a_validation_error_with_its_messages(
    bff: Bff, sandbox: SandboxAdmin, case: str
) -> None:
    connection = sandbox.connect("alice@gmail.example")
    body, messages = refused_patches(sandbox.calendar_ids(connection))[case]

    response = bff.operation("updateConnection", connection, json_body=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"] == [{"location": "upstream", "message": m} for m in messages]
    assert sandbox.only_request()["body"] == body


@pytest.mark.parametrize("case", REFUSED)
def test_patch_refusal_in_meetergos_reference_form_keeps_its_messages(
    make_bff: MakeBff, string_form_sandbox: RunningServer, case: str
) -> None:
    other = SandboxAdmin(string_form_sandbox.url)
    try:
        other.reset()
        connection = other.connect("alice@gmail.example")
        body, messages = refused_patches(other.calendar_ids(connection))[case]
        bff = make_bff(meetergo_base_url=string_form_sandbox.url)

        response = bff.operation("updateConnection", connection, json_body=body)
    finally:
        other.close()

    problem = assert_problem(response, 422, "validation_error")
    said = [error["message"] for error in problem["errors"]]
    assert set(messages) <= set(said), said


def test_provider_without_a_consent_screen_at_meetergo_is_a_validation_error(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    bff = make_bff(providers=["google", "icloud"])  # configured here, refused by the sandbox

    response = bff.operation("getAuthUrl", provider="icloud")

    problem = assert_problem(response, 422, "validation_error")
    assert "icloud" in problem["errors"][0]["message"]
    assert sandbox.only_request()["path"] == upstream_path("getAuthUrl", provider="icloud")


# -- the user's meetergo id ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "meetergo_user_id", [UNKNOWN_ID, MALLORY_ID], ids=["nobody", "another-company"]
)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_user_mapped_to_an_id_meetergo_does_not_know_is_user_not_found(
    make_bff: MakeBff, sandbox: SandboxAdmin, operation: str, meetergo_user_id: str
) -> None:
    bff = make_bff(meetergo_user_id=meetergo_user_id)

    response = bff.operation(operation, UNKNOWN_ID)

    assert_problem(response, 404, "user_not_found")
    assert sandbox.only_request()["headers"]["x-meetergo-api-user-id"] == meetergo_user_id


# -- the service's API key -----------------------------------------------------------------------


REFUSED_KEYS = {
    "expired": (EXPIRED_KEY, ALICE_ID),  # meetergo: 401 API key has expired
    "wrong": (WRONG_KEY, ALICE_ID),  # 401 Invalid API key
    "personal-token-for-another-user": (ALICE_PERSONAL_TOKEN, BOB_ID),  # 403
}


@pytest.mark.parametrize("refused", list(REFUSED_KEYS.values()), ids=list(REFUSED_KEYS))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_refused_api_key_is_upstream_unauthorized_and_an_error_log_without_the_key(
    make_bff: MakeBff,
    sandbox: SandboxAdmin,
    caplog: pytest.LogCaptureFixture,
    operation: str,
    refused: tuple[str, str],
) -> None:
    key, user = refused
    caplog.set_level(logging.DEBUG)
    with contextlib.ExitStack() as stack:
        if key.startswith(PERSONAL_TOKEN_PREFIX):
            # Configuration refuses a personal token (tests/app/test_config.py); a service given
            # one anyway, or a platform key lacking a permission, meets meetergo's 403 this way.
            settings = proxy_settings(sandbox.url).model_copy(
                update={"meetergo_api_key": SecretStr(key)}
            )
            bff = stack.enter_context(running_bff(settings, meetergo_user_id=user))
        else:
            bff = make_bff(meetergo_api_key=key, meetergo_user_id=user)
        response = bff.operation(operation, UNKNOWN_ID)

    assert_problem(response, 502, "upstream_unauthorized")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].name.startswith("app.upstream")
    assert "API key" in errors[0].getMessage()
    secret = key.rsplit(":", 1)[-1]
    for record in caplog.records:
        assert secret not in record.getMessage(), record.getMessage()
    assert secret not in response.text
    assert len(sandbox.requests()) == 1  # refused, and not retried


# -- meetergo's rate limit -----------------------------------------------------------------------


# meetergo's 429 is an incident (the budget should prevent it): the service answers 429 and pauses
# every call for meetergo's Retry-After, or BFF_UPSTREAM_RATE_LIMIT_PAUSE (20 s) without one. Each
# test has a service of its own: the pause would hold up the tests after it.
DEFAULT_PAUSE = "20"


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(7, "7"), (120, "120"), (None, DEFAULT_PAUSE)],
    ids=["7", "120", "none"],
)
@pytest.mark.parametrize("operation", ["listConnections", "updateConnection"])
def test_forced_429_is_upstream_rate_limited_and_pauses(
    make_bff: MakeBff,
    sandbox: SandboxAdmin,
    operation: str,
    retry_after: int | None,
    expected: str,
) -> None:
    bff = make_bff()
    sandbox.faults(rate_limited=True, retry_after=retry_after, times=1)

    response = bff.operation(operation, UNKNOWN_ID)

    assert_problem(response, 429, "upstream_rate_limited")
    assert response.headers["retry-after"] == expected
    assert len(sandbox.requests()) == 1  # a 429 is not retried
    paused = bff.operation(operation, UNKNOWN_ID)
    assert_problem(paused, 429, "upstream_rate_limited")
    assert 1 <= int(paused.headers["retry-after"]) <= int(expected)
    assert len(sandbox.requests()) == 1  # the pause holds: meetergo got nothing more


NOT_SECONDS = {
    "fraction": b"1.5",
    "negative": b"-3",
    "word": b"soon",
    "empty": b"",
    "superscript-two": "\u00b2".encode(),
    "arabic-indic-digits": "\u0661\u0662".encode(),
}


@pytest.mark.parametrize("value", list(NOT_SECONDS.values()), ids=list(NOT_SECONDS))
def test_retry_after_that_is_not_seconds_becomes_the_default_pause(
    make_bff: MakeBff, sandbox: SandboxAdmin, value: bytes
) -> None:
    # The sandbox only sends whole seconds: its forced 429 gets another Retry-After on the way.
    def retry_after(response: httpx.Response) -> list[tuple[bytes, bytes]]:
        return [(b"retry-after", value)] if response.status_code == 429 else []

    bff = make_bff(transport=EditingTransport(retry_after))
    sandbox.faults(rate_limited=True, retry_after=7)

    response = bff.operation("listConnections")

    assert_problem(response, 429, "upstream_rate_limited")
    assert response.headers["retry-after"] == DEFAULT_PAUSE


@pytest.mark.parametrize(
    ("offset", "low", "high"),
    [(90, 85, 91), (-600, 1, 1), (86400, 3600, 3600)],
    ids=["in-90-s", "in-the-past", "tomorrow"],
)
def test_retry_after_as_an_http_date_becomes_the_seconds_until_it(
    make_bff: MakeBff, sandbox: SandboxAdmin, offset: int, low: int, high: int
) -> None:
    # RFC 9110 allows a date; the browser gets seconds (at least 1, at most an hour), not 60.
    def retry_after(response: httpx.Response) -> list[tuple[bytes, bytes]]:
        if response.status_code != 429:
            return []
        return [(b"retry-after", formatdate(time.time() + offset, usegmt=True).encode())]

    bff = make_bff(transport=EditingTransport(retry_after))
    sandbox.faults(rate_limited=True, retry_after=7)

    response = bff.operation("listConnections")

    assert_problem(response, 429, "upstream_rate_limited")
    assert low <= int(response.headers["retry-after"]) <= high, response.headers["retry-after"]


def test_spent_sandbox_bucket_is_upstream_rate_limited(
    make_bff: MakeBff, small_bucket_sandbox: RunningServer
) -> None:
    other = SandboxAdmin(small_bucket_sandbox.url)
    try:
        other.reset()
        bff = make_bff(meetergo_base_url=small_bucket_sandbox.url)

        answers = [bff.operation("listConnections") for _ in range(4)]
        seen = other.requests()
    finally:
        other.close()

    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_problem(answers[3], 429, "upstream_rate_limited")
    assert answers[3].headers["retry-after"] == DEFAULT_PAUSE  # meetergo documents none
    assert len(seen) == 4


# -- the redirect URL ----------------------------------------------------------------------------

FOREIGN_RETURN_TARGETS = {
    "other-site": "https://evil.test/callback",
    "plain-http": "http://bff.test/callback",
    "other-port": "https://bff.test:8443/callback",
    "explicit-default-port": "https://bff.test:443/callback",
    "upper-case-host": "https://BFF.test/callback",
    "look-alike-suffix": "https://bff.test.evil.test/callback",
    "look-alike-prefix": "https://evilbff.test/callback",
    "userinfo-to-other-host": "https://bff.test@evil.test/callback",
    "userinfo-on-our-host": "https://evil.test@bff.test/callback",
    "encoded-slash-in-host": "https://bff.test%2F@evil.test/",
    "scheme-relative": "//evil.test/callback",
    "relative-path": "/settings/calendars",
    "backslashes": "https:\\\\evil.test\\callback",
    "backslash-after-host": "https://bff.test\\@evil.test/",
    "tab-in-url": "https://bff.test/\tcallback",
    "javascript": "javascript:alert(document.domain)",
    "data": "data:text/html,<script>alert(1)</script>",
    "our-origin-in-query": "https://evil.test/?next=https://bff.test/",
    "our-origin-in-fragment": "https://evil.test/#https://bff.test/",
}


@pytest.mark.parametrize(
    "target", list(FOREIGN_RETURN_TARGETS.values()), ids=list(FOREIGN_RETURN_TARGETS)
)
def test_redirect_url_off_the_app_origins_is_invalid_redirect_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, target: str
) -> None:
    response = bff.operation("getAuthUrl", params={"redirectUrl": target})

    assert_problem(response, 422, "invalid_redirect")
    assert "x-flow-id" not in response.headers
    assert not any("mbff_flow" in c for c in response.headers.get_list("set-cookie"))
    assert sandbox.requests() == []


FAILED_STARTS = {
    "5xx": ({"error_rate": 1, "error_statuses": [500]}, "upstream_unavailable"),
    "429": ({"rate_limited": True}, "upstream_rate_limited"),
    "malformed": ({"malformed_json": True}, "upstream_bad_response"),
}


@pytest.mark.parametrize("failure", list(FAILED_STARTS.values()), ids=list(FAILED_STARTS))
def test_auth_url_meetergo_failed_sets_no_flow_cookie(
    make_bff: MakeBff, sandbox: SandboxAdmin, failure: tuple[dict[str, object], str]
) -> None:
    # A flow meetergo never started must not take a place among the browser's recent flows.
    faults, code = failure
    bff = make_bff()  # its own: meetergo's 429 pauses the service that met it
    sandbox.faults(**faults)

    response = bff.operation("getAuthUrl", params={"redirectUrl": "https://bff.test/settings"})

    assert response.json()["code"] == code
    assert "x-flow-id" not in response.headers
    assert not any("mbff_flow" in c for c in response.headers.get_list("set-cookie"))


@pytest.mark.parametrize("provider", ["icloud", "exchange", "caldav", "GOOGLE", "evil", "-"])
def test_provider_not_configured_is_refused_without_upstream_request(
    bff: Bff, sandbox: SandboxAdmin, provider: str
) -> None:
    response = bff.operation("getAuthUrl", provider=provider)

    assert_problem(response, 422, "validation_error")
    assert sandbox.requests() == []


def test_provider_left_out_of_the_configuration_is_refused(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    bff = make_bff(providers=["google"])

    assert bff.operation("getAuthUrl", provider="google").status_code == 200
    sandbox.clear_log()
    assert_problem(bff.operation("getAuthUrl", provider="outlook"), 422, "validation_error")
    assert sandbox.requests() == []


# -- operator switches ---------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_disabled_route_is_route_disabled_without_upstream_request(
    make_bff: MakeBff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = sandbox.connect("alice@gmail.example")
    bff = make_bff(disabled_routes=[operation])

    response = bff.operation(operation, connection)

    assert_problem(response, 404, "route_disabled")
    assert sandbox.requests() == []
    others = [op for op in ("listConnections", "listCalendars") if op != operation]
    for other in others:  # only the switched-off route is gone
        assert bff.operation(other, connection).status_code == 200


def test_disabled_delete_leaves_the_connection_in_place(
    make_bff: MakeBff, sandbox: SandboxAdmin
) -> None:
    connection = sandbox.connect("alice@gmail.example")
    bff = make_bff(disabled_routes=["deleteConnection"])

    assert_problem(bff.operation("deleteConnection", connection), 404, "route_disabled")
    listed = sandbox.direct("GET", upstream_path("listConnections")).json()["connections"]
    assert [c["id"] for c in listed] == [connection]
