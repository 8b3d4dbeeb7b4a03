"""meetergo's own browser code works against the service with two changes, in real Chromium.

``pages/meetergo-snippets.html`` holds the browser-side functions of meetergo's guide with only the
base URL (``https://api.meetergo.com`` → ``/api``) and the headers object (API key and user header →
``credentials: 'include'`` and ``X-CSRF: 1``) changed. The page is served from the service's own
origin, Alice signs in with a login ticket, and the functions are called as meetergo's guide calls
them. Each result is checked twice: as the page got it, and as meetergo (the sandbox) has it.

The functions keep meetergo's ``userId`` argument. The tests pass Bob's meetergo id there: the
service never sees the argument, and the session (Alice's) decides whose calendars are touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from app.session.cookie import SECURE_NAME as SESSION_COOKIE
from sandbox import seed
from tests.support.browser import (
    INSPECTOR_USER_AGENT,
    Stack,
    answer_consent,
    connect_calendar,
    login,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Request

pytestmark = pytest.mark.browser

SNIPPETS_PATH = "/test-pages/meetergo-snippets.html"
UPSTREAM_API = "/v4/calendar-connections"
SERVICE_API = "/api" + UPSTREAM_API
ALICE = seed.ALICE_ID
USER_ID_ARGUMENT = seed.BOB_ID  # meetergo's userId parameter: ignored, the session decides
GOOGLE_EMAIL = "alice@gmail.example"
OUTLOOK_EMAIL = "alice@outlook.example"

# What meetergo's request log shows of the service's calls: its key, masked, and its user agent.
SERVICE_AUTHORIZATION = "Bearer ak_live:7f3e1a52-0000-4000-8000-000000000002:***"
SERVICE_USER_AGENT_PREFIX = "meetergo-calendar-bff/"
API_KEY_SECRET = seed.MEMBER_KEY.rsplit(":", 1)[1]


@dataclass
class SnippetPage:
    """The snippets page in a signed-in browser, and every request that browser page sent."""

    page: Page
    stack: Stack
    sent: list[Request] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.stack.service_url}{SNIPPETS_PATH}"

    def record(self, request: Request) -> None:
        self.sent.append(request)

    def open(self) -> None:
        self.page.goto(self.url)
        assert self.page.evaluate("() => typeof window.meetergo") == "object"

    def call(self, function: str, *args: Any) -> Any:
        """``await window.meetergo[function](...args)`` in the page; its JSON-able result."""
        if self.page.url != self.url:
            self.open()
        return self.page.evaluate(
            "([name, args]) => window.meetergo[name](...args)", [function, list(args)]
        )

    def connect(self, provider: str = "google", email: str = GOOGLE_EMAIL) -> str:
        """A new connection for the signed-in user, made through the consent screen; its id."""
        return connect_calendar(self.page, self.stack, provider=provider, email=email).connection_id

    def status_of(self, method: str, path: str) -> int:
        """The status the page got for its one ``method`` request to ``path`` on the service."""
        (request,) = [
            r for r in self.sent if r.method == method and r.url == self.stack.service_url + path
        ]
        response = request.response()
        assert response is not None, f"{method} {path} got no answer"
        return response.status

    def api_requests(self) -> list[Request]:
        prefix = f"{self.stack.service_url}/api/"
        return [r for r in self.sent if r.url.startswith(prefix)]


@pytest.fixture
def alice(page: Page, stack: Stack) -> Iterator[SnippetPage]:
    """Alice signed in, in a fresh browser context, with every request of the page recorded."""
    snippets = SnippetPage(page, stack)
    page.on("request", snippets.record)
    profile = login(page, stack, "alice")
    assert profile["appUserId"] == "alice"
    assert profile["meetergoUserMapped"] is True
    yield snippets
    page.remove_listener("request", snippets.record)


def editable_secondary(calendars: list[dict[str, Any]]) -> str:
    """The id of the calendar a user would pick besides the account's own: editable, not primary."""
    (calendar_id,) = [c["id"] for c in calendars if c["canEdit"] and not c["isPrimary"]]
    return str(calendar_id)


def account_primary(calendars: list[dict[str, Any]]) -> str:
    (calendar_id,) = [c["id"] for c in calendars if c["isPrimary"]]
    return str(calendar_id)


def primary_flags(connections: list[dict[str, Any]]) -> dict[str, bool]:
    return {c["id"]: c["isPrimary"] for c in connections}


def test_connect_snippet_returns_a_consent_url_whose_allow_connects_the_signed_in_user(
    alice: SnippetPage, stack: Stack
) -> None:
    return_to = alice.url  # meetergo's guide passes the app's own page
    auth_url = alice.call("connectCalendar", USER_ID_ARGUMENT, "google", return_to)
    assert auth_url.startswith(f"{stack.sandbox_url}/consent/google?state=")

    returned = answer_consent(alice.page, stack, auth_url, email=GOOGLE_EMAIL)

    assert returned.params["provider"] == "google"
    connections = stack.sandbox_connections(ALICE)
    assert [(c["id"], c["email"]) for c in connections] == [(returned.connection_id, GOOGLE_EMAIL)]
    assert stack.sandbox_connections(USER_ID_ARGUMENT) == []
    (asked,) = stack.sandbox_requests(f"{UPSTREAM_API}/auth/")
    assert asked["headers"]["x-meetergo-api-user-id"] == ALICE
    query = dict(asked["query"])
    assert query["setAsCalendarSync"] == "true"
    # The service keeps the page's URL as the return target and sends meetergo to its callback.
    assert query["redirectUrl"].startswith(f"{stack.service_url}/connect/callback/")


def test_list_and_calendar_snippets_get_meetergos_answers_unchanged(
    alice: SnippetPage, stack: Stack
) -> None:
    connection_id = alice.connect()

    listed = alice.call("getConnections", USER_ID_ARGUMENT)
    calendars = alice.call("getCalendars", USER_ID_ARGUMENT, connection_id)

    with stack.sandbox_api(ALICE) as meetergo:
        direct_list = meetergo.get(f"{UPSTREAM_API}/connections").json()
        direct_calendars = meetergo.get(
            f"{UPSTREAM_API}/connections/{connection_id}/calendars"
        ).json()
    assert listed["total"] == 1
    assert listed["connections"][0]["id"] == connection_id
    assert listed == direct_list
    assert calendars["connectionId"] == connection_id
    assert len(calendars["calendars"]) == 3
    assert calendars == direct_calendars


def test_update_snippet_sets_the_primary_calendar_and_the_selected_calendars_at_meetergo(
    alice: SnippetPage, stack: Stack
) -> None:
    connection_id = alice.connect()
    calendars = alice.call("getCalendars", USER_ID_ARGUMENT, connection_id)["calendars"]
    work, own = editable_secondary(calendars), account_primary(calendars)

    moved = alice.call(
        "updateConnection", USER_ID_ARGUMENT, connection_id, {"primaryCalendar": work}
    )
    selected = alice.call(
        "updateConnection", USER_ID_ARGUMENT, connection_id, {"selectedCalendars": [own, work]}
    )

    assert (moved["id"], moved["primaryCalendar"]) == (connection_id, work)
    assert selected["primaryCalendar"] == work
    assert selected["selectedCalendars"] == [own, work]
    (at_meetergo,) = stack.sandbox_connections(ALICE)
    assert at_meetergo["primaryCalendar"] == work
    assert at_meetergo["selectedCalendars"] == [own, work]
    shown = alice.call("getCalendars", USER_ID_ARGUMENT, connection_id)["calendars"]
    assert {c["id"] for c in shown if c["selected"]} == {own, work}
    # meetergo received the bodies exactly as the page wrote them, as JSON.
    patches = [e for e in stack.sandbox_requests(UPSTREAM_API) if e["method"] == "PATCH"]
    assert [e["body"] for e in patches] == [
        {"primaryCalendar": work},
        {"selectedCalendars": [own, work]},
    ]
    assert {e["headers"]["content-type"] for e in patches} == {"application/json"}


def test_set_primary_snippet_makes_the_chosen_connection_the_primary_one_at_meetergo(
    alice: SnippetPage, stack: Stack
) -> None:
    first = alice.connect("google", GOOGLE_EMAIL)
    second = alice.connect("outlook", OUTLOOK_EMAIL)
    assert primary_flags(stack.sandbox_connections(ALICE)) == {first: True, second: False}

    answered = alice.call("setPrimaryConnection", USER_ID_ARGUMENT, second)

    assert answered is None  # meetergo's call reads nothing from the answer
    assert alice.status_of("POST", f"{SERVICE_API}/connections/{second}/set-primary") == 200
    assert primary_flags(stack.sandbox_connections(ALICE)) == {first: False, second: True}
    listed = alice.call("getConnections", USER_ID_ARGUMENT)
    assert primary_flags(listed["connections"]) == {first: False, second: True}


def test_disconnect_snippet_deletes_the_connection_at_meetergo(
    alice: SnippetPage, stack: Stack
) -> None:
    first = alice.connect("google", GOOGLE_EMAIL)
    second = alice.connect("outlook", OUTLOOK_EMAIL)

    answered = alice.call("disconnectCalendar", USER_ID_ARGUMENT, first)

    assert answered is None
    assert alice.status_of("DELETE", f"{SERVICE_API}/connections/{first}") == 204
    assert [c["id"] for c in stack.sandbox_connections(ALICE)] == [second]
    listed = alice.call("getConnections", USER_ID_ARGUMENT)
    assert (listed["total"], [c["id"] for c in listed["connections"]]) == (1, [second])


def test_snippet_calls_never_carry_the_api_key_and_reach_meetergo_only_through_the_service(
    alice: SnippetPage, stack: Stack
) -> None:
    # Every snippet once, as an app would use them; what they returned is what the page saw.
    auth_url = alice.call("connectCalendar", USER_ID_ARGUMENT, "google", alice.url)
    first = answer_consent(alice.page, stack, auth_url, email=GOOGLE_EMAIL).connection_id
    second = alice.connect("outlook", OUTLOOK_EMAIL)
    calendars = alice.call("getCalendars", USER_ID_ARGUMENT, second)
    returned = [
        auth_url,
        alice.call("getConnections", USER_ID_ARGUMENT),
        calendars,
        alice.call(
            "updateConnection",
            USER_ID_ARGUMENT,
            second,
            {"primaryCalendar": editable_secondary(calendars["calendars"])},
        ),
        alice.call("setPrimaryConnection", USER_ID_ARGUMENT, second),
        alice.call("disconnectCalendar", USER_ID_ARGUMENT, first),
    ]
    assert API_KEY_SECRET not in json.dumps(returned)

    # The browser's side: the page's calls went to the service with the session cookie and the
    # CSRF header, never with meetergo's headers; no request of the browser held the key.
    api_calls = alice.api_requests()
    page_calls = [(r.method, urlsplit(r.url).path.removeprefix("/api")) for r in api_calls]
    assert page_calls == [
        ("GET", f"{UPSTREAM_API}/auth/google/url"),
        ("GET", f"{UPSTREAM_API}/auth/outlook/url"),
        ("GET", f"{UPSTREAM_API}/connections/{second}/calendars"),
        ("GET", f"{UPSTREAM_API}/connections"),
        ("PATCH", f"{UPSTREAM_API}/connections/{second}"),
        ("POST", f"{UPSTREAM_API}/connections/{second}/set-primary"),
        ("DELETE", f"{UPSTREAM_API}/connections/{first}"),
    ]
    for request in api_calls:
        headers = request.all_headers()
        assert "authorization" not in headers, request.url
        assert "x-meetergo-api-user-id" not in headers, request.url
        assert headers.get("x-csrf") == "1", request.url
        assert f"{SESSION_COOKIE}=" in headers.get("cookie", ""), request.url
        response = request.response()
        assert response is not None, request.url
        assert response.status < 400, (request.url, response.status)
        assert API_KEY_SECRET not in " ".join(response.all_headers().values()), request.url
    for request in alice.sent:
        seen = " ".join([request.url, *request.all_headers().values(), request.post_data or ""])
        assert API_KEY_SECRET not in seen, request.url
        assert "ak_live" not in seen, request.url
    to_sandbox = [r for r in alice.sent if r.url.startswith(stack.sandbox_url)]
    assert to_sandbox, "the consent screens are on meetergo's site"
    assert {urlsplit(r.url).path.split("/")[1] for r in to_sandbox} <= {"consent", "oauth"}

    # meetergo's side: every API call came from the service, with its key, for Alice, and matches
    # a call of the page; every write of the page arrived once, in order.
    log = stack.sandbox_requests()
    by_service = [
        e
        for e in log
        if e["path"].startswith(UPSTREAM_API)
        and e["headers"].get("user-agent") != INSPECTOR_USER_AGENT
    ]
    for entry in by_service:
        assert entry["headers"]["user-agent"].startswith(SERVICE_USER_AGENT_PREFIX), entry
        assert entry["headers"]["authorization"] == SERVICE_AUTHORIZATION, entry
        assert entry["headers"]["x-meetergo-api-user-id"] == ALICE, entry
        assert "cookie" not in entry["headers"], entry
    upstream_calls = [(e["method"], e["path"]) for e in by_service]
    assert set(upstream_calls) <= set(page_calls)
    assert [c for c in upstream_calls if c[0] != "GET"] == [c for c in page_calls if c[0] != "GET"]
    from_browser = [e for e in log if "Chrome" in e["headers"].get("user-agent", "")]
    assert from_browser, "the browser answered the consent screens"
    for entry in from_browser:
        assert not entry["path"].startswith(UPSTREAM_API), entry
        assert "authorization" not in entry["headers"], entry


def test_page_script_cannot_read_the_session_cookie_its_calls_carry(
    alice: SnippetPage, stack: Stack, browser_context: BrowserContext
) -> None:
    alice.open()
    cookies = {c["name"]: c for c in browser_context.cookies(stack.service_url)}
    session = cookies[SESSION_COOKIE]
    assert session.get("httpOnly") is True

    visible = alice.page.evaluate("() => document.cookie")

    assert SESSION_COOKIE not in visible
    assert session["value"] not in visible
    # The browser still sends it: the call is Alice's.
    assert alice.call("getConnections", USER_ID_ARGUMENT) == {"connections": [], "total": 0}
    assert (
        stack.sandbox_requests(f"{UPSTREAM_API}/connections")[-1]["headers"][
            "x-meetergo-api-user-id"
        ]
        == ALICE
    )
