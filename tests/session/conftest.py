"""Shared pieces for the session tests: an app with a test calendar route, a fake clock, tickets.

The app is the real one from ``create_app``. Two things are added for tests: a route under the API
prefix that depends on ``MeetergoUserDep`` (the calendar routes do not exist yet), and, when a test
controls time, a ``SessionManager``, ``TicketVerifier`` and ``MemoryState`` on a fake clock.
Cookies are passed explicitly on every call (never from the client's jar), so a test always knows
which cookie a request carried.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fastapi.routing
import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer

from app.config import Settings
from app.errors import PROBLEM_JSON
from app.main import AUTH_PREFIX, create_app
from app.session.cookie import SessionData
from app.session.deps import MeetergoUserDep
from app.session.sessions import SessionManager
from app.session.tickets import TicketVerifier, mint_ticket
from app.state.memory import MemoryState
from app.state.store import SharedState
from tests.support.settings import TICKET_SECRET, make_settings

BASE_URL = "https://bff.test"
APP_ORIGIN = BASE_URL  # make_settings() configures no app origins: the service's own origin
AUDIENCE = "meetergo-calendar-bff"
WHOAMI = "/api/test/whoami"
WHOAMI_METHODS = ("GET", "POST", "PATCH", "DELETE")
ALICE_MID = "3f2b8c1e-5d4a-4b6f-9e7d-0a1b2c3d4e5f"
BOB_MID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


class FakeClock:
    """Wall-clock seconds that move only when a test says so; starts at the real time."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def add_test_routes(app: FastAPI, api_prefix: str = "/api") -> None:
    """A stand-in calendar route: answers the meetergo user id the dependency resolved."""

    @app.api_route(f"{api_prefix}/test/whoami", methods=list(WHOAMI_METHODS))
    async def whoami(meetergo_user_id: MeetergoUserDep) -> dict[str, str]:
        return {"meetergoUserId": meetergo_user_id}


def build_app(
    settings: Settings | None = None,
    *,
    clock: FakeClock | None = None,
    shared_state: SharedState | None = None,
) -> FastAPI:
    """The real app plus the test route; with ``clock``, sessions and tickets follow it."""
    settings = settings or make_settings()
    if clock is not None and shared_state is None:
        shared_state = MemoryState(clock=clock)
    app = create_app(settings, shared_state=shared_state)
    add_test_routes(app, settings.api_prefix)
    if clock is not None:
        app.state.sessions = SessionManager(settings, app.state.shared_state, clock=clock)
        app.state.tickets = TicketVerifier(settings, app.state.shared_state, clock=clock)
    return app


def guarded_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of ``app`` under the API prefix or ``/auth``, flattened.

    FastAPI >= 0.16x keeps included routers as nested entries of ``app.routes``;
    ``iter_route_contexts`` flattens them. Older versions list the routes directly.
    """
    settings: Settings = app.state.settings
    prefixes = (settings.api_prefix, AUTH_PREFIX)
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Any = flatten(app.routes) if flatten is not None else app.routes
    found = set()
    for route in routes:
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None) or ()
        if path is None or not any(path == p or path.startswith(p + "/") for p in prefixes):
            continue
        for method in methods:
            found.add((method, path))
    return sorted(found)


def concrete(path: str) -> str:
    """``path`` with every ``{parameter}`` filled in, so that it can be requested."""
    return re.sub(r"\{[^}/]+\}", "test-parameter", path)


# -- tickets ---------------------------------------------------------------------------------------


def ticket(
    sub: str = "user-1",
    *,
    name: str | None = "Ada Lovelace",
    meetergo_user_id: str | None = ALICE_MID,
    **kwargs: Any,
) -> str:
    """A valid HS256 ticket as the app's backend mints it (keyword arguments go to mint_ticket)."""
    values: dict[str, Any] = {
        "key": TICKET_SECRET,
        "algorithm": "HS256",
        "audience": AUDIENCE,
        "sub": sub,
        "name": name,
        "meetergo_user_id": meetergo_user_id,
    }
    values.update(kwargs)
    return mint_ticket(**values)


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid claim set; an override of ``None`` removes that claim.

    ``iat`` has microseconds, as ``mint_ticket`` gives it: a whole second could fall in the
    second the app's state epoch began, which refuses it (app/state/epoch.py).
    """
    now = math.floor(time.time() * 1_000_000) / 1_000_000
    values: dict[str, Any] = {
        "sub": "user-1",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 60,
        "jti": f"jti-{time.monotonic_ns()}",
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def encode(payload: dict[str, Any], key: Any = TICKET_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


# -- HTTP ------------------------------------------------------------------------------------------


class Api:
    """Calls with the CSRF header and the app's origin; the session cookie only when given."""

    def __init__(self, client: TestClient, cookie_name: str, origin: str = APP_ORIGIN) -> None:
        self.client = client
        self.cookie_name = cookie_name
        self.origin = origin

    def call(
        self,
        method: str,
        path: str,
        *,
        cookie: str | None = None,
        headers: dict[str, str] | None = None,
        guard: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        self.client.cookies.clear()
        sent = {"X-CSRF": "1", "Origin": self.origin} if guard else {}
        if cookie is not None:
            sent["Cookie"] = f"{self.cookie_name}={cookie}"
        sent.update(headers or {})
        response: httpx.Response = self.client.request(method, path, headers=sent, **kwargs)
        return response

    @property
    def app(self) -> FastAPI:
        app: FastAPI = self.client.app  # type: ignore[assignment]
        return app

    def login(self, token: str, *, cookie: str | None = None) -> httpx.Response:
        return self.call("POST", "/auth/session", json={"ticket": token}, cookie=cookie)

    def login_cookie(self, sub: str = "user-1", **kwargs: Any) -> str:
        response = self.login(ticket(sub, **kwargs))
        assert response.status_code == 200, response.text
        value = new_cookie(response, self.cookie_name)
        assert value is not None
        return value

    def me(self, cookie: str | None) -> httpx.Response:
        return self.call("GET", "/auth/me", cookie=cookie)

    def whoami(self, cookie: str | None) -> httpx.Response:
        return self.call("GET", WHOAMI, cookie=cookie)

    def logout(self, cookie: str | None) -> httpx.Response:
        return self.call("POST", "/auth/logout", cookie=cookie)

    def epoch(self) -> str:
        """The id of the shared state's epoch, which a valid session cookie must carry."""
        sessions: SessionManager = self.app.state.sessions
        portal = self.client.portal
        assert portal is not None, "the client must be running (used in a with block)"
        return portal.call(sessions.epoch.current).id


def open_client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)


def api_for(client: TestClient) -> Api:
    sessions: SessionManager = client.app.state.sessions  # type: ignore[attr-defined]
    return Api(client, sessions.codec.name)


@contextmanager
def serving(
    settings: Settings | None = None,
    *,
    clock: FakeClock | None = None,
    shared_state: SharedState | None = None,
) -> Iterator[Api]:
    """An :class:`Api` on a running app built by :func:`build_app`."""
    with open_client(build_app(settings, clock=clock, shared_state=shared_state)) as client:
        yield api_for(client)


# -- cookies ---------------------------------------------------------------------------------------


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """(name, value, attributes with lower-case names; flags map to "")."""
    first, *rest = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    attributes = {}
    for part in rest:
        key, _, attribute_value = part.partition("=")
        attributes[key.lower()] = attribute_value
    return name, value, attributes


def set_cookies(response: httpx.Response, name: str) -> list[tuple[str, dict[str, str]]]:
    """Every Set-Cookie of ``response`` for the cookie ``name``: (value, attributes)."""
    found = []
    for header in response.headers.get_list("set-cookie"):
        cookie_name, value, attributes = parse_set_cookie(header)
        if cookie_name == name:
            found.append((value, attributes))
    return found


def new_cookie(response: httpx.Response, name: str) -> str | None:
    """The session cookie value ``response`` stores, or None when it stores none."""
    stored = [value for value, attrs in set_cookies(response, name) if attrs.get("max-age") != "0"]
    assert len(stored) <= 1, stored
    return stored[0] if stored else None


def cleared(response: httpx.Response, name: str) -> bool:
    """Whether ``response`` tells the browser to drop the session cookie."""
    return any(
        value == "" and attrs.get("max-age") == "0" for value, attrs in set_cookies(response, name)
    )


def cookie_payload(value: str) -> dict[str, Any]:
    """The content of a session cookie, read without checking its signature."""
    _, payload = URLSafeSerializer("any key").loads_unsafe(value)
    assert isinstance(payload, dict)
    return payload


def decode_cookie(app: FastAPI, value: str) -> SessionData:
    sessions: SessionManager = app.state.sessions
    data = sessions.codec.decode(value)
    assert data is not None
    return data


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    return body


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> FastAPI:
    return build_app(clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with open_client(app) as c:
        yield c


@pytest.fixture
def api(client: TestClient) -> Api:
    return api_for(client)


def settled(api: Api, cookie: str) -> httpx.Response:
    """``/auth/me`` once Redis answers this replica again (its pooled connections are renewed)."""
    deadline = time.monotonic() + 10
    while True:
        response = api.me(cookie)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)
