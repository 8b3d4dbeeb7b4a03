"""Real Chromium for the browser tests, and the service and the sandbox it talks to.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright's sync API (Playwright cannot
download its own browser here, and needs none). Without Chromium or Playwright the browser tests
are skipped with the reason; in CI, which always has both, they fail instead.

:func:`running_stack` serves the service and the meetergo sandbox over real sockets on two
different sites, as the demo does: the service at ``http://localhost:<port>``, the sandbox at
``http://127.0.0.1:<port>``. The return from the consent screen is then the cross-site navigation
it is in production, and Chromium applies its real cookie rules.

Playwright is imported lazily (inside functions, and for type hints only under TYPE_CHECKING) so
that this module, and test modules that use it, can be collected where Playwright is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app.config import load_settings, placeholder_reason
from app.main import create_app
from sandbox import seed
from sandbox.app import create_sandbox_app, set_public_url
from tests.sandbox.support import IsolatedSettings
from tests.support.redis import in_ci
from tests.support.servers import bind_ephemeral, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# Milliseconds Playwright waits for an element, a navigation or an evaluation before failing.
DEFAULT_TIMEOUT_MS = 10_000
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"

SERVICE_HOST = "localhost"
SANDBOX_HOST = "127.0.0.1"
BIND_HOST = "127.0.0.1"  # both servers listen here; "localhost" is only the service's URL host
CSRF_HEADERS = {"X-CSRF": "1"}
CALENDAR_API = "/api/v4/calendar-connections"
CALLBACK_PATH = "/connect/callback/"
# What the tests themselves send when they look at the sandbox, to tell their calls apart.
INSPECTOR_USER_AGENT = "browser-test-inspector"


# -- Chromium --------------------------------------------------------------------------------------


def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and Playwright are present."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install -e '.[dev]')"
    if not (CHROMIUM_PATH.is_file() and os.access(CHROMIUM_PATH, os.X_OK)):
        return f"no Chromium at {CHROMIUM_PATH} (apt-get install chromium, or run scripts/install)"
    return None


def require_browser() -> None:
    """Skip the calling test when the browser is missing, or fail it in CI."""
    reason = browser_unavailable_reason()
    if reason is None:
        return
    if in_ci():
        pytest.fail(
            f"browser tests cannot run: {reason}. CI always has Chromium, so this is a failure.",
            pytrace=False,
        )
    pytest.skip(f"browser tests need Chromium and Playwright: {reason}")


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Debian Chromium with the flags a container needs."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM_PATH),
        headless=True,
        args=list(CHROMIUM_ARGS),
        timeout=30_000,
    )


def artifact_path(name: str, suffix: str = ".png") -> Path:
    """A file under ``test-artifacts/`` (gitignored) named after ``name``, made file-system safe."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "artifact"
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR / f"{safe[:150]}{suffix}"


def save_screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot in ``test-artifacts/<name>.png``; its path."""
    path = artifact_path(name)
    page.screenshot(path=str(path), full_page=True)
    return path


# -- the service and the sandbox on two sites ------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """The service and the sandbox, both running; a fresh sandbox state for each stack."""

    service_url: str
    sandbox_url: str
    sandbox_app: FastAPI
    service_app: FastAPI

    def sandbox_api(self, user_id: str = seed.ALICE_ID) -> httpx.Client:
        """A client of the sandbox's meetergo API acting as ``user_id`` with the service's key.

        Its requests carry :data:`INSPECTOR_USER_AGENT`, so a test can tell them apart from the
        service's in the request log. Close it (``with stack.sandbox_api() as api:``).
        """
        return httpx.Client(
            base_url=self.sandbox_url,
            headers={
                "Authorization": f"Bearer {seed.MEMBER_KEY}",
                "x-meetergo-api-user-id": user_id,
                "User-Agent": INSPECTOR_USER_AGENT,
            },
            trust_env=False,
            timeout=10,
        )

    def sandbox_connections(self, user_id: str = seed.ALICE_ID) -> list[dict[str, Any]]:
        """The user's connections as meetergo (the sandbox) has them now."""
        with self.sandbox_api(user_id) as api:
            response = api.get("/v4/calendar-connections/connections")
        assert response.status_code == 200, response.text
        connections: list[dict[str, Any]] = response.json()["connections"]
        return connections

    def sandbox_requests(self, path_prefix: str = "") -> list[dict[str, Any]]:
        """The sandbox's request log, oldest first (secrets masked by the sandbox)."""
        response = httpx.get(
            f"{self.sandbox_url}/_sandbox/requests",
            params={"path_prefix": path_prefix},
            trust_env=False,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()
        return entries


def random_key() -> str:
    """A fresh 32-byte signing key that the settings accept.

    A random string reads as a placeholder (contains "todo", say) about once in 40,000 draws.
    """
    while True:
        key = secrets.token_urlsafe(32)
        if placeholder_reason(key) is None:
            return key


@contextlib.contextmanager
def running_stack(
    *,
    prepare_service: Callable[[FastAPI], None] | None = None,
    **service_settings: Any,
) -> Iterator[Stack]:
    """The service (demo mode) on ``localhost`` and a fresh sandbox on ``127.0.0.1``.

    The service uses the sandbox's member key and fresh random signing keys; ``demo=True`` gives it
    ``POST /demo/tickets/{alice,bob,dave}``. ``service_settings`` override its settings;
    ``prepare_service`` may add test-only routes to the service app before it starts.
    """
    with contextlib.ExitStack() as stack:
        service_sock = stack.enter_context(bind_ephemeral(BIND_HOST))
        sandbox_sock = stack.enter_context(bind_ephemeral(BIND_HOST))
        service_url = f"http://{SERVICE_HOST}:{service_sock.getsockname()[1]}"
        sandbox_url = f"http://{SANDBOX_HOST}:{sandbox_sock.getsockname()[1]}"

        sandbox_app = create_sandbox_app(IsolatedSettings())
        set_public_url(sandbox_app, sandbox_url)  # its authUrls point at its own port
        settings = load_settings(
            **{
                "_env_file": None,
                "environment": "development",
                "demo": True,
                "public_url": service_url,
                "meetergo_base_url": sandbox_url,
                "meetergo_api_key": seed.MEMBER_KEY,
                "session_keys": [random_key()],
                "ticket_secret": random_key(),
                # The servers share the GIL with Playwright's driver on a busy machine: their
                # event loops run late often, and shedding on lag would refuse at random.
                "max_loop_lag": 10.0,
                # The browser tests are about the pages, and change meetergo behind the
                # service's back (the sandbox connects, revokes): no read cache, and a budget
                # that never refuses. tests/quota covers both, over real sockets.
                "cache_ttl": 0,
                "budget_per_minute": 10_000,
                "budget_per_user_per_minute": 0,
                **service_settings,
            }
        )
        service_app = create_app(settings)
        if prepare_service is not None:
            prepare_service(service_app)

        stack.enter_context(serve(sandbox_app, sock=sandbox_sock, url_host=SANDBOX_HOST))
        stack.enter_context(serve(service_app, sock=service_sock, url_host=SERVICE_HOST))
        yield Stack(service_url, sandbox_url, sandbox_app, service_app)


# -- the browser as a signed-in user of the app ----------------------------------------------------

_LOGIN_SCRIPT = """async (user) => {
  const minted = await fetch(`/demo/tickets/${encodeURIComponent(user)}`, { method: 'POST' });
  if (!minted.ok) {
    return { step: 'ticket', status: minted.status, body: await minted.text() };
  }
  const { ticket } = await minted.json();
  const started = await fetch('/auth/session', {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json', 'X-CSRF': '1' },
    body: JSON.stringify({ ticket }),
  });
  return { step: 'session', status: started.status, body: await started.text() };
}"""

_AUTH_URL_SCRIPT = """async ({ path, query }) => {
  const response = await fetch(`${path}?${new URLSearchParams(query)}`, {
    credentials: 'include',
    headers: { 'X-CSRF': '1' },
  });
  return { status: response.status, body: await response.text() };
}"""


def login(page: Page, stack: Stack, user: str = "alice") -> dict[str, Any]:
    """Sign ``page``'s browser context in as a demo user, the way an app does; the profile.

    The page is left on ``<service>/healthz``, on the service's origin, so it can call the API.
    """
    page.goto(f"{stack.service_url}/healthz")
    result = page.evaluate(_LOGIN_SCRIPT, user)
    assert (result["step"], result["status"]) == ("session", 200), result
    profile: dict[str, Any] = json.loads(result["body"])
    return profile


@dataclass(frozen=True)
class ConsentReturn:
    """Where the sandbox sent the browser after consent: the service's callback URL and query."""

    url: str
    params: dict[str, str]

    @property
    def connection_id(self) -> str:
        assert self.params.get("success") == "true", self.url
        return self.params["connectionId"]


def connect_calendar(
    page: Page,
    stack: Stack,
    *,
    provider: str = "google",
    email: str = "alice@gmail.example",
    decision: str = "allow",
    set_as_calendar_sync: bool | None = None,
) -> ConsentReturn:
    """Connect a calendar for the signed-in user through the consent screen, in ``page``.

    Opens ``<service>/healthz``, asks the service for the auth URL from there (a same-origin
    fetch), then answers the
    sandbox's consent screen with :func:`answer_consent`. The page must be signed in
    (:func:`login`). With ``decision="allow"`` the sandbox has created the connection by the time
    this returns: ``.connection_id`` is its id.
    """
    # A plain page of the service's origin: the page the browser is on may forbid fetch (CSP).
    page.goto(f"{stack.service_url}/healthz")
    query = {}
    if set_as_calendar_sync is not None:
        query["setAsCalendarSync"] = "true" if set_as_calendar_sync else "false"
    answer = page.evaluate(
        _AUTH_URL_SCRIPT, {"path": f"{CALENDAR_API}/auth/{provider}/url", "query": query}
    )
    assert answer["status"] == 200, answer
    auth_url: str = json.loads(answer["body"])["authUrl"]
    return answer_consent(page, stack, auth_url, email=email, decision=decision)


def answer_consent(
    page: Page, stack: Stack, auth_url: str, *, email: str, decision: str = "allow"
) -> ConsentReturn:
    """Open ``auth_url`` (the sandbox's consent screen) in ``page``, fill the e-mail, click.

    The sandbox settles the flow (Allow creates the connection) and redirects the browser to the
    service's ``/connect/callback/<token>``; the query of that redirect is returned, whatever the
    callback then answers.
    """
    assert auth_url.startswith(f"{stack.sandbox_url}/consent/"), auth_url
    page.goto(auth_url)
    page.fill("#email", email)
    callback_prefix = f"{stack.service_url}{CALLBACK_PATH}"
    with page.expect_request(lambda request: request.url.startswith(callback_prefix)) as sent:
        page.click(f"button[name=decision][value={decision}]")
    page.wait_for_load_state()
    url = sent.value.url
    params = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    return ConsentReturn(url, params)
