"""Fixtures for the browser tests.

- ``playwright`` and ``browser``: one headless Debian Chromium for all the browser tests. Every
  test that uses them is skipped with the reason when Chromium or Playwright is missing, and fails
  in CI (``CI`` set), which always has both. Their scope is this package (``tests/browser`` and
  anything below it), which within one run is the session for every browser test, and not the
  whole session on purpose: while Playwright's sync API is started, it marks its event loop as
  running in the main thread, so every later ``asyncio.run()`` of other tests (the CLI's, for one)
  would fail with "cannot be called from a running event loop". Keep browser tests under here.
- ``browser_context`` and ``page`` (per test): a fresh context (no cookies, no storage) and a page
  in it. When the test (or a fixture set up after the page) fails, the page's screenshot goes
  to ``test-artifacts/<test id>.png`` (gitignored); ``save_screenshot`` saves one on request.
- ``stack`` (per test): the service on ``http://localhost:<port>`` and a fresh sandbox on
  ``http://127.0.0.1:<port>`` (:class:`tests.support.browser.Stack`), the service in demo mode and
  serving this directory's ``pages/`` at ``/test-pages/`` and clients/js's node_modules at
  ``/test-vendor/`` (test-only, same origin as the API).

Helpers that go with them: :func:`tests.support.browser.login`,
:func:`tests.support.browser.connect_calendar`, :func:`tests.support.browser.save_screenshot`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tests.support.browser import (
    DEFAULT_TIMEOUT_MS,
    Stack,
    launch_chromium,
    require_browser,
    running_stack,
    save_screenshot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

TEST_PAGES_DIR = Path(__file__).parent / "pages"
TEST_PAGES_PATH = "/test-pages"
# The npm packages the test pages load as files (React's UMD builds, axe-core): clients/js's
# devDependencies, installed by scripts/install (npm ci).
VENDOR_DIR = Path(__file__).resolve().parents[2] / "clients" / "js" / "node_modules"
VENDOR_PATH = "/test-vendor"

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Note on the test item whether its set-up or call failed, for the ``page`` teardown."""
    del call
    report = yield
    if report.when in ("setup", "call") and report.failed:
        item.stash[_FAILED] = True
    return report


def mount_test_pages(app: FastAPI) -> None:
    """Serve ``pages/`` at ``/test-pages`` on the service: test-only, never in the real app.

    Inserted first, so that no route of the app (a catch-all static mount, say) can shadow it.
    """
    pages = StaticFiles(directory=TEST_PAGES_DIR)
    app.router.routes.insert(0, Mount(TEST_PAGES_PATH, app=pages, name="test-pages"))
    if VENDOR_DIR.is_dir():
        vendor = StaticFiles(directory=VENDOR_DIR)
        app.router.routes.insert(0, Mount(VENDOR_PATH, app=vendor, name="test-vendor"))


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    require_browser()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - may be absent: skipped

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


@pytest.fixture
def browser_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(browser_context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = browser_context.new_page()
    yield page
    if request.node.stash.get(_FAILED, False) and not page.is_closed():
        save_screenshot(page, request.node.nodeid)


@pytest.fixture
def stack() -> Iterator[Stack]:
    with running_stack(prepare_service=mount_test_pages) as running:
        yield running
