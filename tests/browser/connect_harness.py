"""Driving the JS client's connect flow in Chromium: the harness page and the consent screen.

``pages/connect-harness.html`` (served at ``/test-pages/`` on the service's origin by the
``stack`` fixture) imports ``/sdk/v1/calendar.js`` as an app does and calls ``connect()`` from a
click on ``#connect``. :class:`Harness` wraps that page: set the options of the next
``connect()``, click (a real user gesture, so the popup opens), answer the consent screen in the
popup, and read how each ``connect()`` call settled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.browser import CALLBACK_PATH, Stack, login

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Request

HARNESS_PATH = "/test-pages/connect-harness.html"
FLOW_STATUS_PATH = "/api/connect/flows/"
GOOGLE_EMAIL = "alice@gmail.example"
# How long a test waits for a flow to settle once the user has answered: generous for a slow CI,
# never reached when the flow works (every wait ends on its condition).
SETTLE_TIMEOUT_MS = 8_000

# Runs before any script of every page in the context: on the service's callback page it notes
# whether that page had a window.opener. localStorage is shared with the harness page (the same
# origin, both top-level), so the test can read the note after the callback page has closed.
OPENER_PROBE_KEY = "test:callback-had-opener"
OPENER_PROBE_SCRIPT = f"""
if (location.pathname.startsWith({json.dumps(CALLBACK_PATH)})) {{
  try {{
    localStorage.setItem({json.dumps(OPENER_PROBE_KEY)}, String(window.opener !== null));
  }} catch (e) {{ /* not the service's origin */ }}
}}
"""


def set_sandbox_faults(stack: Stack, **faults: Any) -> None:
    response = httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json=faults, trust_env=False)
    assert response.status_code == 200, response.text


def answer_consent_screen(
    popup: Page,
    stack: Stack,
    *,
    email: str = GOOGLE_EMAIL,
    decision: str = "allow",
    grant_calendar_scope: bool = True,
) -> None:
    """In ``popup`` (on its way to the sandbox's consent screen): fill the form and answer."""
    popup.wait_for_url(f"{stack.sandbox_url}/consent/**")
    popup.fill("#email", email)
    if not grant_calendar_scope:
        popup.uncheck("#scope-calendar")
    popup.click(f"button[name=decision][value={decision}]")


def wait_until_closed(popup: Page) -> None:
    """Return once ``popup`` is closed (at once when it already is)."""
    if not popup.is_closed():
        popup.wait_for_event("close")


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def flow_page_data(page: Page) -> dict[str, Any]:
    """What a callback page carries for its script: the message, origins and channel."""
    data: dict[str, Any] = json.loads(page.text_content("#flow-result") or "null")
    return data


@dataclass
class Harness:
    """The harness page in a signed-in context, and the requests that context sent."""

    page: Page
    stack: Stack
    context: BrowserContext
    sent: list[Request] = field(default_factory=list)
    # Headers of callback requests, read as they happen: the popup that sent them may be gone
    # (closed) by the time a test looks.
    callback_headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.stack.service_url}{HARNESS_PATH}"

    def record(self, request: Request) -> None:
        self.sent.append(request)
        if request.url.startswith(f"{self.stack.service_url}{CALLBACK_PATH}"):
            self.callback_headers.append(request.all_headers())

    def open(self, query: str = "") -> None:
        self.page.goto(self.url + (f"?{query}" if query else ""))
        self.page.wait_for_function("window.harnessReady === true")

    def set_options(self, expression: str) -> None:
        """``harness.options = <expression>`` in the page (JS, so a signal can be built there)."""
        self.page.evaluate(f"() => {{ harness.options = ({expression}); }}")

    def click_connect(self) -> Page:
        """Click the page's connect button (a user gesture); the popup connect() opened."""
        with self.page.expect_popup() as opened:
            self.page.click("#connect")
        return opened.value

    def flow_id(self, index: int = 0) -> str:
        """The flowId the client put into the start URL of its ``index``-th popup."""
        url = self.page.evaluate("(i) => harness.opened[i]", index)
        return query_of(url)["flowId"]

    def outcome(self, index: int = 0, timeout: float = SETTLE_TIMEOUT_MS) -> dict[str, Any]:
        """How the ``index``-th connect() settled, once it has."""
        self.page.wait_for_function(
            "(i) => harness.outcomes[i] && harness.outcomes[i].status !== 'pending'",
            arg=index,
            timeout=timeout,
        )
        return self.outcome_now(index)

    def outcome_now(self, index: int = 0) -> dict[str, Any]:
        outcome: dict[str, Any] = self.page.evaluate("(i) => harness.outcomes[i]", index)
        return outcome

    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.page.evaluate("() => harness.messages")
        return messages

    def wait_for_messages(self, count: int) -> list[dict[str, Any]]:
        """Once the page has received ``count`` messages: all of them.

        The client's listener runs in the same dispatch as the harness's, and how the client's
        promise settles is recorded in a microtask right after it: by the time this returns,
        a message the client accepted has settled its outcome.
        """
        self.page.wait_for_function("(n) => harness.messages.length >= n", arg=count)
        return self.messages()

    def sent_to(self, prefix: str) -> list[str]:
        """The URLs of the context's requests that start with ``prefix``."""
        return [r.url for r in self.sent if r.url.startswith(prefix)]

    def callback_requests(self) -> list[Request]:
        prefix = f"{self.stack.service_url}{CALLBACK_PATH}"
        return [r for r in self.sent if r.url.startswith(prefix)]

    def status_requests(self) -> list[Request]:
        prefix = f"{self.stack.service_url}{FLOW_STATUS_PATH}"
        return [r for r in self.sent if r.url.startswith(prefix)]

    def callback_had_opener(self) -> str | None:
        """``"true"``/``"false"``: whether the last callback page had a ``window.opener``."""
        value: str | None = self.page.evaluate(
            "(key) => localStorage.getItem(key)", OPENER_PROBE_KEY
        )
        return value

    def list_connections(self) -> dict[str, Any]:
        """``listConnections()`` of the JS client, in the page."""
        listed: dict[str, Any] = self.page.evaluate("() => harness.client.listConnections()")
        return listed


def open_harness(context: BrowserContext, page: Page, stack: Stack, user: str = "alice") -> Harness:
    """Sign ``user`` in, record the context's requests, open the harness page."""
    context.add_init_script(OPENER_PROBE_SCRIPT)
    harness = Harness(page, stack, context)
    context.on("request", harness.record)
    login(page, stack, user)
    harness.open()
    return harness
