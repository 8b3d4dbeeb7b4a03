"""The connect flow in real Chromium: the JS client, the sandbox's consent screen, the callback.

Every test runs the service on ``http://localhost:<port>`` and the sandbox (meetergo and the
provider's consent screen) on ``http://127.0.0.1:<port>``: two different sites, as in production,
so the return from the consent screen is a cross-site navigation and Chromium applies its real
SameSite, popup and opener rules. The app is ``pages/connect-harness.html`` on the service's
origin (see :mod:`tests.browser.connect_harness`); each test states one behaviour of the flow and
checks it both as the page saw it and as meetergo (the sandbox) has it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from app.connect.flows import FLOW_COOKIE_SECURE
from app.session.cookie import SECURE_NAME as SESSION_COOKIE
from sandbox import seed
from tests.browser.connect_harness import (
    GOOGLE_EMAIL,
    Harness,
    answer_consent_screen,
    flow_page_data,
    open_harness,
    query_of,
    set_sandbox_faults,
    wait_until_closed,
)
from tests.support.browser import (
    CALENDAR_API,
    CALLBACK_PATH,
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    DEFAULT_TIMEOUT_MS,
    INSPECTOR_USER_AGENT,
    Stack,
    connect_calendar,
    login,
    save_screenshot,
)

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        Dialog,
        Error,
        Page,
        Playwright,
        Response,
        ViewportSize,
    )

pytestmark = pytest.mark.browser

ALICE = seed.ALICE_ID
BOB = seed.BOB_ID
UPSTREAM_API = "/v4/calendar-connections"
ANOTHER_FLOW_ID = "AnotherFlowOfThisApp0"


@pytest.fixture
def alice(browser_context: BrowserContext, page: Page, stack: Stack) -> Harness:
    """Alice signed in, on the harness page, every request of her context recorded."""
    return open_harness(browser_context, page, stack, "alice")


@pytest.fixture
def other_context(browser: Browser) -> Iterator[BrowserContext]:
    """A second, separate browser profile (no shared cookies or storage): another person."""
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield context
    context.close()


def connection_ids(stack: Stack, user: str = ALICE) -> list[str]:
    return [c["id"] for c in stack.sandbox_connections(user)]


def service_deletes(stack: Stack) -> list[str]:
    """The paths of the DELETEs the service (not the test) sent to meetergo."""
    return [
        e["path"]
        for e in stack.sandbox_requests(UPSTREAM_API)
        if e["method"] == "DELETE" and e["headers"].get("user-agent") != INSPECTOR_USER_AGENT
    ]


def collect_page_errors(page: Page) -> list[str]:
    """A list that fills with the page's uncaught script errors."""
    errors: list[str] = []

    def on_error(error: Error) -> None:
        errors.append(str(error))

    page.on("pageerror", on_error)
    return errors


def assert_rejected(outcome: dict[str, Any], code: str) -> None:
    assert outcome["status"] == "rejected", outcome
    assert outcome["isCalendarError"] is True, outcome
    assert outcome["name"] == "CalendarError", outcome
    assert outcome["code"] == code, outcome


# -- the popup flow: success -------------------------------------------------------------------


def test_popup_flow_resolves_with_the_new_connection_id_which_is_then_listed(
    alice: Harness, stack: Stack
) -> None:
    popup = alice.click_connect()
    answer_consent_screen(popup, stack)

    outcome = alice.outcome()

    assert outcome["status"] == "resolved", outcome
    result = outcome["value"]
    assert connection_ids(stack) == [result["connectionId"]]
    assert result == {
        "connectionId": result["connectionId"],
        "provider": "google",
        "flowId": alice.flow_id(),
    }
    listed = alice.list_connections()
    assert [c["id"] for c in listed["connections"]] == [result["connectionId"]]
    # The main channel carried it: the callback page had the opener and posted to it.
    assert alice.callback_had_opener() == "true"
    (message,) = [m for m in alice.messages() if m["fromPopup"]]
    assert message["origin"] == stack.service_url
    assert message["data"]["flowId"] == result["flowId"]
    assert message["data"]["success"] is True
    wait_until_closed(popup)  # the client closes the window once it has the result


def test_popup_flow_succeeds_across_sites_because_the_lax_session_and_flow_cookies_ride_the_return(
    alice: Harness, stack: Stack
) -> None:
    service, sandbox = urlsplit(stack.service_url), urlsplit(stack.sandbox_url)
    assert (service.hostname, sandbox.hostname) == ("localhost", "127.0.0.1")  # two sites

    popup = alice.click_connect()
    answer_consent_screen(popup, stack)
    outcome = alice.outcome()

    assert outcome["status"] == "resolved", outcome
    (headers,) = alice.callback_headers
    # A top-level navigation that a page of the other site started...
    assert headers.get("sec-fetch-site") == "cross-site", headers
    assert headers.get("sec-fetch-mode") == "navigate", headers
    # ...and both SameSite=Lax cookies went with it, which is what let the callback succeed.
    sent = {c.split("=", 1)[0].strip() for c in headers.get("cookie", "").split(";")}
    assert {SESSION_COOKIE, FLOW_COOKIE_SECURE} <= sent, headers.get("cookie")
    cookies = {c["name"]: c for c in alice.context.cookies(stack.service_url)}
    assert cookies[SESSION_COOKIE]["sameSite"] == "Lax"
    assert cookies[FLOW_COOKIE_SECURE]["sameSite"] == "Lax"
    assert connection_ids(stack) == [outcome["value"]["connectionId"]]


# -- the popup flow: each error of the consent screen ---------------------------------------------


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("deny", "access_denied"),
        ("untick_scope", "invalid_scope"),
        ("server_error_fault", "server_error"),
        ("same_account_again", "connection_already_exists"),
    ],
)
def test_consent_screen_error_rejects_with_a_calendar_error_of_that_code(
    alice: Harness, stack: Stack, answer: str, code: str
) -> None:
    before: list[str] = []
    if answer == "same_account_again":
        popup = alice.click_connect()
        answer_consent_screen(popup, stack, email=GOOGLE_EMAIL)
        assert alice.outcome(0)["status"] == "resolved"
        before = connection_ids(stack)
        assert len(before) == 1
    if answer == "server_error_fault":
        set_sandbox_faults(stack, consent_server_error=True)
    index = len(before)

    popup = alice.click_connect()
    answer_consent_screen(
        popup,
        stack,
        email=GOOGLE_EMAIL,
        decision="deny" if answer == "deny" else "allow",
        grant_calendar_scope=answer != "untick_scope",
    )
    outcome = alice.outcome(index)

    assert_rejected(outcome, code)
    assert connection_ids(stack) == before
    (callback,) = alice.callback_requests()[index:]
    assert query_of(callback.url)["error"] == "true"  # meetergo reported the error itself
    wait_until_closed(popup)


def test_flow_that_fails_as_it_starts_rejects_with_the_services_code(
    browser_context: BrowserContext, page: Page, stack: Stack
) -> None:
    # Dave is signed in to the app but has no meetergo account: the start route cannot begin.
    dave = open_harness(browser_context, page, stack, "dave")
    popup = dave.click_connect()

    outcome = dave.outcome()

    assert_rejected(outcome, "user_not_mapped")
    assert dave.sent_to(stack.sandbox_url) == []  # the consent screen was never shown
    (message,) = [m for m in dave.messages() if m["fromPopup"]]
    assert message["data"]["flowId"] == dave.flow_id()
    wait_until_closed(popup)


# -- full-page redirect mode -------------------------------------------------------------------


def redirect_connect(alice: Harness, stack: Stack, email: str) -> str:
    """Start a redirect-mode connect() from a click, consent; the URL the browser landed on."""
    alice.set_options("{ mode: 'redirect' }")
    with alice.page.expect_navigation(url=f"{stack.sandbox_url}/consent/**"):
        alice.page.click("#connect")
    alice.page.fill("#email", email)
    with alice.page.expect_request(lambda r: r.url.startswith(f"{alice.url}?")) as landed:
        alice.page.click("button[name=decision][value=allow]")
    alice.page.wait_for_function("window.harnessReady === true")
    return landed.value.url


def test_redirect_mode_leaves_the_page_and_lands_back_with_success_parameters(
    alice: Harness, stack: Stack
) -> None:
    landed = redirect_connect(alice, stack, GOOGLE_EMAIL)

    (connection_id,) = connection_ids(stack)
    assert landed == f"{alice.url}?success=true&provider=google&connectionId={connection_id}"
    assert alice.page.evaluate("() => harness.redirect") == {
        "success": True,
        "provider": "google",
        "connectionId": connection_id,
        "code": None,
        "message": None,
    }
    assert alice.page.url == alice.url  # readRedirectResult() took the parameters off the URL
    # The page's earlier flow left it, so no popup was opened and no promise is waiting.
    assert alice.page.evaluate("() => harness.outcomes.length") == 0
    (callback,) = alice.callback_requests()
    assert callback.frame == alice.page.main_frame


def test_redirect_mode_error_lands_back_with_meetergos_twice_encoded_message_and_our_code(
    alice: Harness, stack: Stack
) -> None:
    redirect_connect(alice, stack, GOOGLE_EMAIL)
    before = connection_ids(stack)

    landed = redirect_connect(alice, stack, GOOGLE_EMAIL)

    assert landed == (
        f"{alice.url}?error=true&provider=google"
        "&message=Connection%2520already%2520exists&code=connection_already_exists"
    )
    assert alice.page.evaluate("() => harness.redirect") == {
        "success": False,
        "provider": "google",
        "connectionId": None,
        "code": "connection_already_exists",
        "message": "Connection already exists",
    }
    assert alice.page.url == alice.url
    assert connection_ids(stack) == before


def test_redirect_result_with_a_malformed_message_is_still_read_and_does_not_break_the_page(
    alice: Harness,
) -> None:
    # Anyone can link to the app's page with these parameters: a bad escape in the (twice
    # encoded) message must not throw from readRedirectResult() while the page loads.
    errors = collect_page_errors(alice.page)

    alice.open("error=true&provider=google&message=%25E0%25A4&code=access_denied")

    assert errors == []
    assert alice.page.evaluate("() => harness.redirect") == {
        "success": False,
        "provider": "google",
        "connectionId": None,
        "code": "access_denied",
        "message": "%E0%A4",
    }
    assert alice.page.url == alice.url


# -- the client's own errors --------------------------------------------------------------------


def test_connect_outside_a_user_gesture_is_stopped_by_chromiums_popup_blocker_as_popup_blocked(
    playwright: Playwright, stack: Stack
) -> None:
    # Playwright launches Chromium with --disable-popup-blocking; this browser keeps the blocker.
    blocking = playwright.chromium.launch(
        executable_path=str(CHROMIUM_PATH),
        headless=True,
        args=list(CHROMIUM_ARGS),
        ignore_default_args=["--disable-popup-blocking"],
    )
    try:
        context = blocking.new_context()
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        page = context.new_page()
        harness = open_harness(context, page, stack)

        # connect() as the page loads: no user gesture, the blocker refuses the window.
        harness.open("autostart=1")
        blocked = harness.outcome(0, timeout=2_000)

        assert_rejected(blocked, "popup_blocked")
        assert blocked["settledAt"] - blocked["startedAt"] < 1_000  # at once, not on a timer
        assert page.evaluate("() => harness.popups") == [None]
        assert context.pages == [page]
        assert harness.sent_to(f"{stack.service_url}/connect/") == []
        # The same browser lets the click's popup through: the blocker is the real one.
        popup = harness.click_connect()
        popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
        assert harness.outcome_now(1)["status"] == "pending"
    finally:
        blocking.close()


def test_popup_closed_by_the_user_rejects_with_popup_closed(alice: Harness, stack: Stack) -> None:
    alice.set_options("{ closedGraceMs: 300, severedGraceMs: 300 }")
    popup = alice.click_connect()
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
    assert alice.outcome_now()["status"] == "pending"

    popup.close()
    outcome = alice.outcome()

    assert_rejected(outcome, "popup_closed")
    assert outcome["settledAt"] - outcome["startedAt"] >= 300
    assert connection_ids(stack) == []


def test_popup_closed_soon_after_opening_gets_the_longer_grace(
    alice: Harness, stack: Stack
) -> None:
    alice.set_options("{ closedGraceMs: 300, severedGraceMs: 2500, earlyCloseMs: 60000 }")
    popup = alice.click_connect()
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
    popup.close()
    outcome = alice.outcome()

    assert_rejected(outcome, "popup_closed")
    assert outcome["settledAt"] - outcome["startedAt"] >= 2500


def test_consent_left_unanswered_rejects_with_timeout_and_closes_the_popup(
    alice: Harness, stack: Stack
) -> None:
    alice.set_options("{ timeoutMs: 1200 }")
    popup = alice.click_connect()
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")

    outcome = alice.outcome()

    assert_rejected(outcome, "timeout")
    assert outcome["settledAt"] - outcome["startedAt"] >= 1_200
    wait_until_closed(popup)
    assert connection_ids(stack) == []


def test_abort_signal_rejects_with_aborted_and_closes_the_popup(
    alice: Harness, stack: Stack
) -> None:
    alice.page.evaluate("() => { window.controller = new AbortController(); }")
    alice.set_options("{ signal: window.controller.signal }")
    popup = alice.click_connect()
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
    assert alice.outcome_now()["status"] == "pending"

    alice.page.evaluate("() => window.controller.abort()")
    outcome = alice.outcome()

    assert_rejected(outcome, "aborted")
    wait_until_closed(popup)
    # A signal aborted before the call rejects at once and opens nothing.
    alice.page.click("#connect")
    assert_rejected(alice.outcome(1), "aborted")
    assert alice.page.evaluate("() => harness.opened.length") == 1


def test_second_connect_during_a_flow_rejects_with_flow_in_progress_and_the_first_completes(
    alice: Harness, stack: Stack
) -> None:
    popup = alice.click_connect()
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")

    alice.page.click("#connect")
    second = alice.outcome(1)

    assert_rejected(second, "flow_in_progress")
    assert alice.page.evaluate("() => harness.opened.length") == 1  # no second window
    assert alice.outcome_now(0)["status"] == "pending"
    answer_consent_screen(popup, stack)
    first = alice.outcome(0)
    assert first["status"] == "resolved", first
    assert connection_ids(stack) == [first["value"]["connectionId"]]


# -- Cross-Origin-Opener-Policy on the consent page -----------------------------------------------


@pytest.mark.parametrize("fallback", ["broadcast_channel", "status_endpoint"])
def test_flow_completes_when_the_consent_pages_coop_cuts_the_opener(
    alice: Harness, stack: Stack, fallback: str
) -> None:
    set_sandbox_faults(stack, consent_coop=True)
    if fallback == "broadcast_channel":
        # No polling within the test's time: only the BroadcastChannel can deliver.
        alice.set_options("{ closedGraceMs: 6000, pollIntervalMs: 600000 }")
    else:
        # This page has no BroadcastChannel: only the status endpoint can deliver.
        alice.page.evaluate("() => { delete window.BroadcastChannel; }")
        assert alice.page.evaluate("() => 'BroadcastChannel' in window") is False
        alice.set_options("{ closedGraceMs: 6000, pollIntervalMs: 200 }")

    consent_prefix = f"{stack.sandbox_url}/consent/"
    with alice.context.expect_event(
        "response", lambda r: r.url.startswith(consent_prefix)
    ) as consent_page:
        popup = alice.click_connect()
    assert consent_page.value.all_headers().get("cross-origin-opener-policy") == "same-origin"
    popup.wait_for_url(f"{consent_prefix}**")
    # The SPA lost its handle on the window: popup.closed reads true while the user is there.
    assert alice.page.evaluate("() => harness.popups[0].closed") is True
    assert not popup.is_closed()
    answer_consent_screen(popup, stack)
    outcome = alice.outcome()

    assert outcome["status"] == "resolved", outcome
    assert connection_ids(stack) == [outcome["value"]["connectionId"]]
    assert alice.callback_had_opener() == "false"  # the callback page had no window.opener
    assert [m for m in alice.messages() if m["fromPopup"]] == []  # so no postMessage came
    statuses = alice.status_requests()
    if fallback == "broadcast_channel":
        assert statuses == []
    else:
        answered = [r.response() for r in statuses]
        final = [json.loads(r.body()) for r in answered if r is not None and r.status == 200]
        assert final[-1]["state"] == "success", final
        assert final[-1]["connectionId"] == outcome["value"]["connectionId"]
    # What the user sees in the window the opener can no longer close.
    if not popup.is_closed():
        assert popup.text_content("#status") == "Calendar connected"


def test_flow_under_coop_completes_when_the_user_takes_longer_than_the_closed_grace(
    alice: Harness, stack: Stack
) -> None:
    # The cut comes as the consent page loads: popup.closed turns true early, so the client
    # waits severedGraceMs, not closedGraceMs, before believing the window is gone.
    set_sandbox_faults(stack, consent_coop=True)
    alice.set_options("{ closedGraceMs: 500, severedGraceMs: 20000, pollIntervalMs: 200 }")
    popup = alice.click_connect()
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
    # The user reads the consent screen for longer than the grace period.
    alice.page.wait_for_function("() => performance.now() - harness.outcomes[0].startedAt > 1500")

    answer_consent_screen(popup, stack)
    popup.wait_for_selector("#status")  # the callback page has reported the result

    (connection_id,) = connection_ids(stack)  # meetergo has the new connection...
    outcome = alice.outcome()
    assert outcome["status"] == "resolved", outcome  # ...and the app must learn of it
    assert outcome["value"]["connectionId"] == connection_id


# -- hijack: a callback in a browser that did not start the flow ----------------------------------


@pytest.mark.parametrize("victim", ["bob", None], ids=["victim_signed_in_as_bob", "signed_out"])
def test_attackers_flow_consented_in_the_victims_browser_ends_in_flow_mismatch_and_is_undone(
    alice: Harness, stack: Stack, other_context: BrowserContext, victim: str | None
) -> None:
    # The attacker (Alice's account) starts a flow through the API and sends its authUrl on.
    started = alice.page.evaluate(
        """async (path) => {
          const r = await fetch(path, { credentials: 'include', headers: { 'X-CSRF': '1' } });
          return { status: r.status, flowId: r.headers.get('X-Flow-ID'), body: await r.json() };
        }""",
        f"{CALENDAR_API}/auth/google/url",
    )
    assert started["status"] == 200, started
    auth_url = started["body"]["authUrl"]

    # The victim opens it in their own browser, consents with their account, lands on our callback.
    victim_page = other_context.new_page()
    if victim is not None:
        login(victim_page, stack, victim)
    victim_page.goto(auth_url)
    victim_page.fill("#email", "victim@gmail.example")
    callback_prefix = f"{stack.service_url}{CALLBACK_PATH}"
    with victim_page.expect_response(lambda r: r.url.startswith(callback_prefix)) as landed:
        victim_page.click("button[name=decision][value=allow]")
    response = landed.value

    # meetergo did connect the victim's calendar to the attacker's user...
    returned = query_of(response.url)
    assert returned["success"] == "true", response.url
    hijacked = returned["connectionId"]
    # ...the victim's browser is told flow_mismatch, never success...
    data = flow_page_data(victim_page)
    assert data["message"]["success"] is False
    assert data["message"]["code"] == "flow_mismatch"
    assert data["message"]["connectionId"] is None
    assert victim_page.text_content("#status") == "Calendar not connected"
    # ...and the service removed that connection: the attacker has none, and no one else got one.
    assert connection_ids(stack, ALICE) == []
    assert connection_ids(stack, BOB) == []
    assert service_deletes(stack) == [f"{UPSTREAM_API}/connections/{hijacked}"]
    # The attacker's own browser never learns of a success either.
    status = alice.page.evaluate("(flowId) => harness.client.flowStatus(flowId)", started["flowId"])
    assert status["state"] == "pending", status


def test_completed_callback_replayed_in_another_browser_reports_flow_mismatch_and_changes_nothing(
    alice: Harness, stack: Stack, other_context: BrowserContext
) -> None:
    popup = alice.click_connect()
    answer_consent_screen(popup, stack)
    outcome = alice.outcome()
    assert outcome["status"] == "resolved", outcome
    connection_id = outcome["value"]["connectionId"]
    (callback,) = alice.callback_requests()
    assert query_of(callback.url)["connectionId"] == connection_id

    replay_page = other_context.new_page()
    login(replay_page, stack, "bob")
    response = replay_page.goto(callback.url)

    assert response is not None
    data = flow_page_data(replay_page)
    assert data["message"]["success"] is False
    assert data["message"]["code"] == "flow_mismatch"
    assert data["message"]["connectionId"] is None
    assert replay_page.text_content("#status") == "Calendar not connected"
    assert connection_id not in response.text()  # the page does not echo the query
    # Alice's connection, made by her own finished flow, is untouched by the replay.
    assert connection_ids(stack, ALICE) == [connection_id]
    assert service_deletes(stack) == []
    assert connection_ids(stack, BOB) == []


# -- forged messages ----------------------------------------------------------------------------


def test_message_with_the_real_flow_id_from_the_consent_screens_origin_is_ignored(
    alice: Harness, stack: Stack
) -> None:
    popup = alice.click_connect()
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
    flow_id = alice.flow_id()
    forged = {
        "type": "calendar-connected",
        "success": True,
        "provider": "google",
        "connectionId": "forged-by-the-consent-page",
        "flowId": flow_id,
    }

    # The popup itself (so event.source is the popup) posts from the sandbox's origin.
    popup.evaluate("(message) => window.opener.postMessage(message, '*')", forged)
    (received,) = alice.wait_for_messages(1)

    assert (received["origin"], received["fromPopup"]) == (stack.sandbox_url, True)
    assert received["data"] == forged
    assert alice.outcome_now()["status"] == "pending"
    answer_consent_screen(popup, stack)
    outcome = alice.outcome()
    assert outcome["status"] == "resolved", outcome
    assert outcome["value"]["connectionId"] == connection_ids(stack)[0]
    assert outcome["value"]["connectionId"] != forged["connectionId"]


def test_same_origin_messages_for_another_flow_or_from_another_window_are_ignored(
    alice: Harness, stack: Stack, browser_context: BrowserContext
) -> None:
    forged = {
        "type": "calendar-connected",
        "success": True,
        "provider": "google",
        "connectionId": "forged-for-another-flow",
        "flowId": ANOTHER_FLOW_ID,
    }
    relay_marker = "relayed=1"

    # The popup's first page, on the service's origin, posts a message for another flow (and
    # one with no flowId at all) to its opener before it goes on to the real start URL.
    def first_page(route: Any) -> None:
        if relay_marker in route.request.url:
            route.continue_()
            return
        script = (
            f"window.opener.postMessage({json.dumps(forged)}, location.origin);"
            f"window.opener.postMessage({json.dumps({**forged, 'flowId': None})}, location.origin);"
            f"location.replace(location.href + '&{relay_marker}');"
        )
        route.fulfill(status=200, content_type="text/html", body=f"<script>{script}</script>")

    browser_context.route(re.compile(re.escape(f"{stack.service_url}/connect/google?")), first_page)
    popup = alice.click_connect()
    first, second = alice.wait_for_messages(2)
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
    flow_id = alice.flow_id()
    # And the SPA's own window posts the right flowId: right origin, but not from the popup.
    alice.page.evaluate(
        "(message) => window.postMessage(message, location.origin)",
        {**forged, "flowId": flow_id, "connectionId": "forged-by-another-window"},
    )
    third = alice.wait_for_messages(3)[2]

    assert [(m["origin"], m["fromPopup"]) for m in (first, second, third)] == [
        (stack.service_url, True),
        (stack.service_url, True),
        (stack.service_url, False),
    ]
    assert third["data"]["flowId"] == flow_id
    assert alice.outcome_now()["status"] == "pending"
    answer_consent_screen(popup, stack)
    outcome = alice.outcome()
    assert outcome["status"] == "resolved", outcome
    assert outcome["value"]["connectionId"] == connection_ids(stack)[0]
    assert outcome["value"]["flowId"] == flow_id


# -- the callback page never reflects its query ---------------------------------------------------

INJECTED = {
    "connectionId": "<script>alert(1)</script>",
    "message": "<img src=x onerror=alert(1)>",
    "provider": "<svg onload=alert(1)>",
}
INJECTED_QUERY = (
    "success=true"
    f"&connectionId={quote(INJECTED['connectionId'])}"
    "&message=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
    f"&provider={quote(INJECTED['provider'])}"
)


def assert_safe_flow_page(html: str, headers: dict[str, str]) -> None:
    for text in INJECTED.values():
        assert text not in html
    assert "alert(1)" not in html
    assert "onerror" not in html
    assert "onload" not in html
    csp = headers["content-security-policy"]
    assert re.search(r"script-src 'nonce-[A-Za-z0-9_-]{16,}'", csp), csp
    assert "default-src 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert "cross-origin-opener-policy" not in headers


@pytest.mark.parametrize("token", ["valid", "invalid"])
def test_callback_page_never_contains_or_runs_injected_query_text(
    alice: Harness, stack: Stack, token: str
) -> None:
    if token == "valid":
        # A real flow token of Alice's browser: where the service told meetergo to send her.
        alice.page.evaluate(
            "(path) => fetch(path, { credentials: 'include', headers: { 'X-CSRF': '1' } })",
            f"{CALENDAR_API}/auth/google/url",
        )
        (asked,) = stack.sandbox_requests(f"{UPSTREAM_API}/auth/")
        callback_url = dict(asked["query"])["redirectUrl"]
        assert callback_url.startswith(f"{stack.service_url}{CALLBACK_PATH}")
    else:
        callback_url = f"{stack.service_url}{CALLBACK_PATH}not-a-valid-token"
    url = f"{callback_url}?{INJECTED_QUERY}"
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    alice.page.on("dialog", on_dialog)
    errors = collect_page_errors(alice.page)

    response = alice.page.goto(url)

    assert response is not None
    assert response.status == 200
    assert_safe_flow_page(response.text(), response.all_headers())
    assert alice.page.evaluate("() => document.querySelectorAll('img, svg, iframe').length") == 0
    data = flow_page_data(alice.page)
    assert data["message"]["success"] is False  # an injected connectionId is no connection id
    expected = "connect_failed" if token == "valid" else "flow_expired"
    assert data["message"]["code"] == expected
    assert data["message"]["provider"] in ("google", "unknown")
    plain = httpx.get(url, trust_env=False, timeout=10)  # no browser, no cookies
    assert plain.status_code == 200
    assert_safe_flow_page(plain.text, dict(plain.headers))
    embedded = re.search(
        r'<script type="application/json" id="flow-result">(.*?)</script>', plain.text
    )
    assert embedded is not None, plain.text
    plain_message = json.loads(embedded.group(1))["message"]
    assert plain_message["success"] is False
    assert plain_message["code"] == ("flow_mismatch" if token == "valid" else "flow_expired")
    assert dialogs == []
    assert errors == []
    assert connection_ids(stack) == []


# -- the demo settings page, as a person sees it ---------------------------------------------------

VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}


def test_demo_settings_page_shows_a_connected_account_at_desktop_and_phone_width(
    browser: Browser, stack: Stack
) -> None:
    connection_id = None
    for name, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        try:
            page = context.new_page()
            errors = collect_page_errors(page)
            login(page, stack, "alice")
            if connection_id is None:  # one account at meetergo, for both widths to show
                connection_id = connect_calendar(page, stack).connection_id
            response: Response | None = page.goto(f"{stack.service_url}/demo/settings.html")
            assert response is not None
            assert response.status == 200
            # The page's documented hooks: "ready" once the list has loaded, one row per account.
            page.wait_for_selector("body[data-state=ready]")
            row = page.locator(f"[data-testid='connection-{connection_id}']")
            assert row.count() == 1
            assert GOOGLE_EMAIL in (row.text_content() or "")
            shot = save_screenshot(page, f"demo-settings-{name}")
            assert shot.stat().st_size > 0
            assert errors == [], errors
        finally:
            context.close()
