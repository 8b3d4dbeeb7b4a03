"""The session and flow cookies' ``__Host-Http-`` prefix, as real Chromium enforces it.

``__Host-`` already pins a cookie to the origin (Secure, ``Path=/``, no ``Domain``), but page
script may still *create* one when none exists yet: an injected script could plant a session of
its choosing before login, or a copy under a longer path that is sent first. ``__Host-Http-``
closes that: a cookie with this prefix can only come from an HTTP response with ``HttpOnly``.
Each test also shows that the same write succeeds for a plain ``__Host-`` name, so the refusal
is the prefix's doing and the test could fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from app.connect.flows import FLOW_COOKIE_SECURE
from app.session.cookie import SECURE_NAME
from tests.support.browser import Stack, login

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.browser

LEGACY_NAME = "__Host-mbff_session"  # what the session cookie was called before


def jar(context: BrowserContext, name: str) -> list[dict[str, Any]]:
    return [dict(c) for c in context.cookies() if c["name"] == name]


def script_sets(page: Page, cookie: str) -> None:
    page.evaluate("(cookie) => { document.cookie = cookie; }", cookie)


def test_the_service_names_its_cookies_with_the_host_http_prefix() -> None:
    assert SECURE_NAME.startswith("__Host-Http-")
    assert FLOW_COOKIE_SECURE.startswith("__Host-Http-")


def test_page_script_cannot_plant_a_session_cookie_before_login(
    browser_context: BrowserContext, page: Page, stack: Stack
) -> None:
    page.goto(f"{stack.service_url}/healthz")  # the service's origin, no session yet

    script_sets(page, f"{SECURE_NAME}=planted; Path=/; Secure")
    script_sets(page, f"{LEGACY_NAME}=planted; Path=/; Secure")

    assert jar(browser_context, SECURE_NAME) == []
    # The control: without the Http- part, the same write from script works.
    (legacy,) = jar(browser_context, LEGACY_NAME)
    assert legacy["value"] == "planted"


def test_page_script_can_neither_read_overwrite_nor_shadow_the_session_cookie(
    browser_context: BrowserContext, page: Page, stack: Stack
) -> None:
    login(page, stack, "alice")
    (session,) = jar(browser_context, SECURE_NAME)
    assert session["httpOnly"] is True
    assert session["secure"] is True
    assert session["path"] == "/"

    assert SECURE_NAME not in page.evaluate("() => document.cookie")
    script_sets(page, f"{SECURE_NAME}=forged; Path=/; Secure")
    script_sets(page, f"{SECURE_NAME}=shadow; Path=/api; Secure")  # a copy sent first on /api
    script_sets(page, f"{SECURE_NAME}=expired; Path=/; Secure; Max-Age=0")  # or a deletion

    assert jar(browser_context, SECURE_NAME) == [session]
    assert (
        page.evaluate(
            """async () => (await fetch('/auth/me', { headers: { 'X-CSRF': '1' } })).status"""
        )
        == 200
    )
    # The control: a script-made cookie under the legacy name is accepted by the same page.
    script_sets(page, f"{LEGACY_NAME}=planted; Path=/; Secure")
    assert [c["value"] for c in jar(browser_context, LEGACY_NAME)] == ["planted"]


def test_the_flow_cookie_cannot_be_planted_by_page_script(
    browser_context: BrowserContext, page: Page, stack: Stack
) -> None:
    login(page, stack, "alice")
    script_sets(page, f"{FLOW_COOKIE_SECURE}=planted; Path=/; Secure")
    assert jar(browser_context, FLOW_COOKIE_SECURE) == []
