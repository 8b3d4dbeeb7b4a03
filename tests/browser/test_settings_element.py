"""<meetergo-calendar-settings> in real Chromium: plain HTML, React, both languages, both widths.

The element is loaded from the service's ``/sdk/v1/`` (the committed build of clients/js) in
``pages/settings-element.html`` (a plain page) and ``pages/react-settings.html`` (React 18 from
npm), signed in as Alice, against the sandbox on another site. Playwright's selectors reach into
the element's open shadow root, so the tests use the same data-testid hooks as a person's eyes
would use the controls. axe-core (from npm) is injected to check accessibility.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VENDOR_DIR
from tests.browser.connect_harness import GOOGLE_EMAIL, answer_consent_screen, set_sandbox_faults
from tests.support.browser import (
    DEFAULT_TIMEOUT_MS,
    Stack,
    connect_calendar,
    login,
    save_screenshot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, ViewportSize

pytestmark = pytest.mark.browser

PLAIN_PAGE = "/test-pages/settings-element.html"
REACT_PAGE = "/test-pages/react-settings.html"
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 900},
    "phone": {"width": 390, "height": 844},
}
ELEMENT = "meetergo-calendar-settings"


def open_element(page: Page, stack: Stack, *, lang: str = "en", path: str = PLAIN_PAGE) -> None:
    """Open a host page and wait until the element has loaded the list."""
    query = f"?lang={lang}" if path == PLAIN_PAGE else ""
    page.goto(f"{stack.service_url}{path}{query}")
    page.wait_for_selector(f"{ELEMENT}[data-state=ready]")


def events(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("() => window.events")
    return found


def message(page: Page) -> dict[str, str | None]:
    box = page.get_by_test_id("message")
    return {
        "kind": box.get_attribute("data-kind"),
        "code": box.get_attribute("data-code"),
        "text": page.get_by_test_id("message-text").text_content(),
    }


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations for the page as it is now (shadow DOM included)."""
    source = (VENDOR_DIR / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
    page.evaluate(source)
    result: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ["violations"] });
          return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" > ")),
          }));
        }"""
    )
    return result


@pytest.fixture
def alice(browser_context: BrowserContext, page: Page, stack: Stack) -> Page:
    login(page, stack, "alice")
    return page


@pytest.fixture
def connected(alice: Page, stack: Stack) -> str:
    """Alice with one Google account, connected through the consent screen; its id."""
    return connect_calendar(alice, stack).connection_id


def revoke(stack: Stack, connection_id: str) -> None:
    response = httpx.post(
        f"{stack.sandbox_url}/_sandbox/connections/{connection_id}/revoke", trust_env=False
    )
    assert response.status_code == 200, response.text


# -- connect, change, disconnect: the whole path in plain HTML ---------------------------------


def test_plain_html_connect_change_and_disconnect_with_events(alice: Page, stack: Stack) -> None:
    open_element(alice, stack)
    assert alice.get_by_test_id("status-google").get_attribute("data-status") == "none"
    with alice.expect_popup() as opened:
        alice.get_by_test_id("connect-google").click()
    answer_consent_screen(opened.value, stack)
    alice.wait_for_function("() => window.events.some((e) => e.type === 'connected')")
    (connection,) = stack.sandbox_connections()
    row = alice.get_by_test_id(f"connection-{connection['id']}")
    row.wait_for()
    assert GOOGLE_EMAIL in (row.text_content() or "")
    # Focus lands on the new account's heading, so a screen reader continues from there.
    alice.wait_for_function(
        "(id) => document.querySelector('meetergo-calendar-settings').shadowRoot"
        ".activeElement?.id === `conn-${id}-heading`",
        arg=connection["id"],
    )
    # The message names the provider with the e-mail.
    assert message(alice)["text"] == (
        f"{GOOGLE_EMAIL} (Google Calendar) is connected. It is your primary account, so new "
        "bookings will be added to it."
    )
    assert alice.get_by_test_id("status-google").get_attribute("data-status") == "connected"

    # A booking rule, said positively: the switch is on when the calendar may e-mail attendees.
    notify = row.get_by_test_id("toggle-disableAttendeeNotification")
    assert notify.is_checked() is (connection["disableAttendeeNotification"] is False)
    label = row.locator(f"label[for='{notify.get_attribute('id')}']").text_content()
    assert label == "Let the calendar e-mail attendees"
    was_on = notify.is_checked()
    notify.click()
    alice.wait_for_function("() => window.events.some((e) => e.type === 'changed')")
    (after,) = stack.sandbox_connections()
    assert after["disableAttendeeNotification"] is was_on
    changed = next(e for e in events(alice) if e["type"] == "changed")
    assert changed["detail"]["changes"] == {"disableAttendeeNotification": was_on}

    # Disconnect asks first; "Keep it connected" has the focus.
    row.get_by_test_id("disconnect").click()
    dialog = alice.get_by_test_id("disconnect-dialog")
    dialog.wait_for()
    assert alice.evaluate(
        f"() => document.querySelector('{ELEMENT}').shadowRoot.activeElement.dataset.testid"
    ) == ("cancel-disconnect")
    alice.get_by_test_id("confirm-disconnect").click()
    alice.wait_for_function("() => window.events.some((e) => e.type === 'disconnected')")
    assert stack.sandbox_connections() == []
    alice.get_by_test_id("empty-google").wait_for()
    disconnected = next(e for e in events(alice) if e["type"] == "disconnected")
    assert disconnected["detail"] == {"connectionId": connection["id"], "provider": "google"}


# -- reconnect ---------------------------------------------------------------------------------


def test_a_revoked_connection_needs_attention_and_reconnects_end_to_end(
    alice: Page, stack: Stack, connected: str
) -> None:
    revoke(stack, connected)
    open_element(alice, stack)
    row = alice.get_by_test_id(f"connection-{connected}")
    assert alice.get_by_test_id("status-google").get_attribute("data-status") == "attention"
    assert row.get_by_test_id("needs-reconnect").text_content() == "Needs reconnecting"
    reconnect = row.get_by_test_id("reconnect")
    assert reconnect.get_attribute("aria-label") == f"Reconnect {GOOGLE_EMAIL} (Google Calendar)"
    with alice.expect_popup() as opened:
        reconnect.click()
    assert GOOGLE_EMAIL in str(message(alice)["text"])  # "... choose alice@..."
    answer_consent_screen(opened.value, stack, email=GOOGLE_EMAIL)
    alice.wait_for_function("() => window.events.some((e) => e.type === 'connected')")
    (connection,) = stack.sandbox_connections()
    assert connection["id"] == connected
    assert connection["isConnected"] is True
    event = next(e for e in events(alice) if e["type"] == "connected")
    assert event["detail"]["reconnected"] is True
    assert message(alice)["text"] == f"{GOOGLE_EMAIL} (Google Calendar) is connected again."
    alice.wait_for_selector(f"{ELEMENT}[data-state=ready]")
    assert alice.get_by_test_id("status-google").get_attribute("data-status") == "connected"
    assert row.get_by_test_id("needs-reconnect").count() == 0


# -- rough edges ------------------------------------------------------------------------------


def test_closing_the_popup_is_said_at_once_with_retry_and_cancel(alice: Page, stack: Stack) -> None:
    open_element(alice, stack)
    with alice.expect_popup() as opened:
        alice.get_by_test_id("connect-google").click()
    popup = opened.value
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
    popup.close()
    # Well inside the client's grace period (10 s, 60 s right after opening): at once.
    alice.wait_for_selector("[data-testid=message][data-code=popup_closed]", timeout=3000)
    assert "sign-in window was closed" in str(message(alice)["text"])
    assert alice.get_by_test_id("message-retry").text_content() == "Try again"
    save_screenshot(alice, "settings-element-popup-closed")
    # Retry opens a new popup at once (a click, so no blocker), and that flow can finish.
    with alice.expect_popup() as reopened:
        alice.get_by_test_id("message-retry").click()
    answer_consent_screen(reopened.value, stack)
    alice.wait_for_function("() => window.events.some((e) => e.type === 'connected')")
    assert len(stack.sandbox_connections()) == 1


def test_a_late_result_still_counts_after_the_popup_looked_closed(
    alice: Page, stack: Stack
) -> None:
    # The consent page's COOP cuts the opener: popup.closed reads true while the user is there.
    set_sandbox_faults(stack, consent_coop=True)
    open_element(alice, stack)
    with alice.expect_popup() as opened:
        alice.get_by_test_id("connect-google").click()
    popup = opened.value
    alice.wait_for_selector("[data-testid=message][data-code=popup_closed]", timeout=3000)
    assert not popup.is_closed()
    # The user finishes in the window anyway: the element takes the result.
    answer_consent_screen(popup, stack)
    alice.wait_for_function("() => window.events.some((e) => e.type === 'connected')")
    alice.wait_for_selector("[data-testid=message][data-kind=success]")
    assert len(stack.sandbox_connections()) == 1


def test_cancel_after_the_popup_closed_ends_the_attempt(alice: Page, stack: Stack) -> None:
    open_element(alice, stack)
    with alice.expect_popup() as opened:
        alice.get_by_test_id("connect-google").click()
    opened.value.close()
    alice.wait_for_selector("[data-testid=message][data-code=popup_closed]", timeout=3000)
    alice.get_by_test_id("message-cancel").click()
    alice.wait_for_selector("[data-testid=message][data-code=aborted]")
    alice.wait_for_selector(f"{ELEMENT}[data-state=ready]")
    assert alice.get_by_test_id("connect-google").is_enabled()


def test_an_error_is_explained_with_its_friendly_text_and_a_retry_that_works(
    alice: Page, stack: Stack
) -> None:
    set_sandbox_faults(stack, error_rate=1, error_statuses=[503])
    alice.goto(f"{stack.service_url}{PLAIN_PAGE}?lang=de")
    alice.wait_for_selector(f"{ELEMENT}[data-state=error]")
    shown = message(alice)
    assert shown["kind"] == "error"
    assert shown["code"] == "upstream_unavailable"
    assert shown["text"] == "meetergo ist im Moment nicht erreichbar."
    assert alice.get_by_test_id("message").get_attribute("role") == "alert"
    save_screenshot(alice, "settings-element-error-de")
    error = next(e for e in events(alice) if e["type"] == "error")
    assert error["detail"]["code"] == "upstream_unavailable"
    httpx.delete(f"{stack.sandbox_url}/_sandbox/faults", trust_env=False).raise_for_status()
    alice.get_by_test_id("message-retry").click()
    alice.wait_for_selector(f"{ELEMENT}[data-state=ready]")
    assert alice.get_by_test_id("status-google").text_content() == "Nicht verbunden"


# -- languages ----------------------------------------------------------------------------------


def test_the_page_language_picks_german_and_a_change_of_it_is_followed(
    alice: Page, stack: Stack, connected: str
) -> None:
    open_element(alice, stack, lang="de")
    row = alice.get_by_test_id(f"connection-{connected}")
    assert alice.get_by_test_id("connect-google").text_content() == (
        "Weiteres Google-Konto verbinden"
    )
    assert row.get_by_test_id("primary-badge").text_content() == "Hauptkonto"
    assert "Kalenderkonten" in (alice.locator(f"{ELEMENT} h2").first.text_content() or "")
    alice.evaluate("() => { document.documentElement.lang = 'en'; }")
    alice.wait_for_function(
        f"""() => document.querySelector('{ELEMENT}').shadowRoot
              .querySelector('h2').textContent === 'Calendar accounts'"""
    )
    # An explicit attribute wins over the page's language.
    alice.evaluate(f"() => document.querySelector('{ELEMENT}').setAttribute('locale', 'de')")
    assert alice.get_by_test_id("connect-google").text_content() == (
        "Weiteres Google-Konto verbinden"
    )


# -- React -------------------------------------------------------------------------------------


def test_in_a_react_page_the_element_renders_in_german_and_reports_connected(
    alice: Page, stack: Stack
) -> None:
    open_element(alice, stack, path=REACT_PAGE)
    assert alice.evaluate("() => window.reactVersion").startswith("18.")
    assert alice.get_by_test_id("connect-google").text_content() == "Google Kalender verbinden"
    with alice.expect_popup() as opened:
        alice.get_by_test_id("connect-google").click()
    answer_consent_screen(opened.value, stack)
    (connection,) = stack.sandbox_connections()
    alice.wait_for_function(
        "(id) => document.querySelector('[data-testid=react-connected]').textContent === id",
        arg=connection["id"],
    )
    assert "ist verbunden" in str(message(alice)["text"])


# -- accessibility -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "de"])
def test_axe_finds_no_violations_at_desktop_and_phone_width_and_screenshots_are_kept(
    browser: Browser, stack: Stack, lang: str
) -> None:
    connection_id = None
    for name, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        try:
            page = context.new_page()
            login(page, stack, "alice")
            if connection_id is None:
                connection_id = connect_calendar(page, stack).connection_id
                connect_calendar(page, stack, provider="outlook", email="alice@outlook.example")
                revoke(stack, connection_id)  # one account needing attention, one connected
            open_element(page, stack, lang=lang)
            page.get_by_test_id("primary-calendar").first.wait_for()
            assert run_axe(page) == [], name
            save_screenshot(page, f"settings-element-{lang}-{name}")
            # Wider than the screen is a bug at phone width.
            assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
            # The confirmation dialog too.
            page.get_by_test_id("disconnect").first.click()
            page.get_by_test_id("disconnect-dialog").wait_for()
            assert run_axe(page) == [], f"{name} dialog"
            save_screenshot(page, f"settings-element-{lang}-{name}-dialog")
            page.keyboard.press("Escape")
        finally:
            context.close()


def test_keyboard_and_screen_reader_paths(alice: Page, stack: Stack, connected: str) -> None:
    open_element(alice, stack)
    root = f"document.querySelector('{ELEMENT}').shadowRoot"
    active = f"() => {root}.activeElement && {root}.activeElement.dataset.testid"
    # The switches are switches, each labelled and described; the list is a labelled list.
    row = alice.get_by_test_id(f"connection-{connected}")
    assert row.get_by_role("switch", name=re.compile(".+")).count() == 3
    fields = ("validateAvailability", "cancelIfDeclinedOrDeleted", "disableAttendeeNotification")
    for field in fields:
        assert row.get_by_test_id(f"toggle-{field}").get_attribute("aria-describedby")
    assert alice.get_by_role("list", name="Google Calendar accounts").count() == 1
    assert alice.get_by_test_id("announcer").get_attribute("aria-live") == "polite"

    # Tab order follows the page: the refresh button, then the first card's connect button.
    alice.get_by_test_id("refresh").focus()
    alice.keyboard.press("Tab")
    assert alice.evaluate(active) == "connect-google"

    # Tab reaches the disconnect button; Enter opens the dialog with focus on "keep"; Escape
    # closes it and puts the focus back on the button that opened it.
    disconnect = row.get_by_test_id("disconnect")
    disconnect.focus()
    alice.keyboard.press("Enter")
    alice.get_by_test_id("disconnect-dialog").wait_for()
    assert alice.evaluate(active) == "cancel-disconnect"
    assert alice.get_by_role("dialog", name=f"Disconnect {GOOGLE_EMAIL} (Google Calendar)?")
    alice.keyboard.press("Escape")
    alice.wait_for_function(f"({active})() === 'disconnect'")
    assert len(stack.sandbox_connections()) == 1

    # A switch toggles with the space bar, says "Saving…" and keeps the focus.
    switch = row.get_by_test_id("toggle-validateAvailability")
    switch.focus()
    before = switch.is_checked()
    alice.keyboard.press("Space")
    alice.wait_for_function("() => window.events.some((e) => e.type === 'changed')")
    alice.wait_for_selector(f"{ELEMENT}[data-state=ready]")
    assert switch.is_checked() is (not before)
    assert alice.evaluate(active) == "toggle-validateAvailability"
    # The live region is emptied, then filled 50 ms later (so a repeated message is read again).
    expect(alice.get_by_test_id("announcer")).to_contain_text("Conflict checking is")


# -- theming --------------------------------------------------------------------------------------


def test_custom_properties_and_parts_theme_it_and_page_variables_cannot_break_it(
    alice: Page, stack: Stack
) -> None:
    open_element(alice, stack)
    alice.add_style_tag(
        content=f"""
        :root {{ --brand: rgb(10, 120, 60); --ink: rgb(255, 255, 255); }}
        {ELEMENT} {{ --mcs-color-accent: var(--brand); --mcs-radius: 2px; }}
        {ELEMENT}::part(provider) {{ border-width: 3px; }}
        """
    )
    connect = alice.get_by_test_id("connect-google")
    style = connect.evaluate(
        "(b) => { const s = getComputedStyle(b); return [s.backgroundColor, s.color]; }"
    )
    # The page's --brand reaches the element only through the documented --mcs-color-accent,
    # and its --ink (white) does not leak in: the text stays readable.
    assert style == ["rgb(10, 120, 60)", "rgb(255, 255, 255)"]
    heading_color = alice.evaluate(
        f"() => getComputedStyle(document.querySelector('{ELEMENT}').shadowRoot"
        ".querySelector('h3')).color"
    )
    assert heading_color == "rgb(29, 36, 51)"
    card = alice.get_by_test_id("provider-google")
    assert card.evaluate("(c) => getComputedStyle(c).borderTopWidth") == "3px"


# -- the demo page uses the element, shows the session, signs out with a confirmation ----------


def test_demo_pages_use_the_element_without_console_errors_and_confirm_sign_out(
    browser_context: BrowserContext, page: Page, stack: Stack
) -> None:
    problems: list[str] = []

    def on_console(entry: ConsoleMessage) -> None:
        if entry.type in ("error", "warning"):
            problems.append(entry.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Signed out: the sign-in page checks the session without a failed request.
    page.goto(f"{stack.service_url}/demo/")
    page.wait_for_selector("body[data-state=ready]")
    assert problems == []

    with page.expect_navigation():
        page.get_by_test_id("login-alice").click()
    page.wait_for_selector("body[data-state=ready]")
    assert page.locator(ELEMENT).count() == 1
    assert page.get_by_test_id("user-name").text_content() == "Alice Admin"
    # The page hands the element its client as it loads: one list read at meetergo, not two.
    listed = [
        entry
        for entry in stack.sandbox_requests("/v4/calendar-connections/connections")
        if entry["method"] == "GET"
    ]
    assert len(listed) == 1, listed
    page.get_by_test_id("language").select_option("de")
    page.wait_for_function("() => document.documentElement.lang === 'de'")
    assert page.get_by_test_id("connect-google").text_content() == "Google Kalender verbinden"
    assert page.get_by_test_id("sign-out").text_content() == "Abmelden"
    assert run_axe(page) == []
    save_screenshot(page, "demo-settings-de")

    with page.expect_navigation():
        page.get_by_test_id("sign-out").click()
    page.wait_for_selector("[data-testid=message][data-kind=success]")
    assert page.get_by_test_id("message-text").text_content() == (
        "Sie sind abgemeldet. Wählen Sie eine Person, um sich erneut anzumelden."
    )
    assert "signedOut" not in page.url
    assert problems == [], problems


def test_the_callback_page_speaks_the_browsers_language(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(locale="de-DE")
    try:
        page = context.new_page()
        page.goto(f"{stack.service_url}/connect/callback/not-a-valid-token")
        assert page.text_content("#status") == "Kalender nicht verbunden"
        assert page.evaluate("() => document.documentElement.lang") == "de"
        data = json.loads(page.text_content("#flow-result") or "{}")
        assert data["message"]["code"] == "flow_expired"  # the code stays English
    finally:
        context.close()
