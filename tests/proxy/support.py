"""The proxy's integration harness: a real sandbox on a socket, the real service, and what they saw.

- :class:`SandboxAdmin` drives a running sandbox: reset, faults, its request log, direct API calls
  (as the service would make them, with the member key) and the consent round trip that creates
  a connection.
- :class:`Bff` is the browser's side: the real service from ``create_app`` in a TestClient, signed
  in through a login ticket, each call with the CSRF header, the app's origin and the session
  cookie passed explicitly.
- :func:`raw_request` sends a request target byte for byte over a socket (no client library
  normalises ``..``, re-encodes ``%2f`` or refuses a space), for the path tricks.
- :class:`EditingTransport` is the real network transport to the sandbox, which can keep a copy
  of meetergo's raw answer and add headers to it on the way back (the sandbox never sends a
  ``Set-Cookie`` or a date in ``Retry-After``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.errors import PROBLEM_JSON
from app.main import create_app
from app.session.sessions import SessionManager
from app.session.tickets import mint_ticket
from sandbox.app import create_sandbox_app, set_public_url
from sandbox.config import SandboxSettings
from sandbox.seed import ALICE_ID, MEMBER_KEY
from tests.support.servers import RunningServer, serve
from tests.support.settings import TICKET_SECRET, make_settings

# What Starlette's TestClient answers: its own httpx fork's Response (same interface as httpx's).
BrowserResponse = httpx2.Response
BASE_URL = "https://bff.test"  # make_settings(): the public URL and the only app origin
API = "/api/v4/calendar-connections"
UPSTREAM = "/v4/calendar-connections"
GUARD = {"X-CSRF": "1", "Origin": BASE_URL}
APP_USER = "app-user-alice"
# Loading the CA bundle once, not per client (the sandbox is plain http, but httpx builds it).
TLS = ssl.create_default_context()

# What the proxy tests run with: a short deadline so that faults are quick to observe.
DEADLINE = 1.5
READ_TIMEOUT = 1.0
TIMING_SLACK = 1.5  # loose on purpose: timings on a busy CI machine are not precise


def upstream_path(operation: str, connection_id: str = "", provider: str = "google") -> str:
    """meetergo's path for ``operation``."""
    return UPSTREAM + ROUTE_PATHS[operation].format(connectionId=connection_id, provider=provider)


def api_path(operation: str, connection_id: str = "", provider: str = "google") -> str:
    """The service's path for ``operation``: meetergo's, under the API prefix."""
    return "/api" + upstream_path(operation, connection_id, provider)


ROUTE_PATHS = {
    "getAuthUrl": "/auth/{provider}/url",
    "listConnections": "/connections",
    "listCalendars": "/connections/{connectionId}/calendars",
    "updateConnection": "/connections/{connectionId}",
    "deleteConnection": "/connections/{connectionId}",
    "setPrimaryConnection": "/connections/{connectionId}/set-primary",
}
ROUTE_METHODS = {
    "getAuthUrl": "GET",
    "listConnections": "GET",
    "listCalendars": "GET",
    "updateConnection": "PATCH",
    "deleteConnection": "DELETE",
    "setPrimaryConnection": "POST",
}
OPERATIONS = tuple(ROUTE_PATHS)
READS = ("getAuthUrl", "listConnections", "listCalendars")
WRITES = ("updateConnection", "deleteConnection", "setPrimaryConnection")
CONNECTION_ROUTES = (
    "listCalendars",
    "updateConnection",
    "deleteConnection",
    "setPrimaryConnection",
)
PATCH_BODY = {"validateAvailability": False}


def body_for(operation: str) -> dict[str, Any] | None:
    """A valid body for ``operation`` (only the PATCH takes one)."""
    return dict(PATCH_BODY) if operation == "updateConnection" else None


# -- the sandbox -------------------------------------------------------------------------------


@contextlib.contextmanager
def running_sandbox(**settings: Any) -> Iterator[RunningServer]:
    """A sandbox with these settings on an ephemeral port, its authUrls pointing at itself."""
    # The sandbox as documented: a developer's SANDBOX_* variables (faults!) must not leak in.
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("SANDBOX_")]:
            patch.delenv(name)
        app = create_sandbox_app(SandboxSettings(**settings))
    with serve(app) as server:
        set_public_url(app, server.url)
        yield server


class SandboxAdmin:
    """One running sandbox, seen from the test: its admin endpoints and its API, directly."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(
            base_url=url, timeout=10, follow_redirects=False, verify=TLS, trust_env=False
        )

    def close(self) -> None:
        self.client.close()

    def reset(self) -> None:
        """State, faults, rate-limit buckets and the request log back to the seed."""
        response = self.client.post("/_sandbox/reset")
        assert response.status_code == 204, response.text

    def faults(self, **faults: Any) -> None:
        response = self.client.put("/_sandbox/faults", json=faults)
        assert response.status_code == 200, response.text

    def clear_log(self) -> None:
        assert self.client.delete("/_sandbox/requests").status_code == 204

    def requests(
        self, path_prefix: str = "/v4", *, with_snapshot: bool = False
    ) -> list[dict[str, Any]]:
        """What reached meetergo's API, oldest first.

        A connect flow starts by listing the user's connections (the hijack defence's snapshot,
        see app/connect/begin.py); unless ``with_snapshot``, those list calls made before the
        first auth-URL request are left out, so a test of ``getAuthUrl`` sees that call only.
        """
        response = self.client.get("/_sandbox/requests", params={"path_prefix": path_prefix})
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()
        auth = [i for i, e in enumerate(entries) if e["path"].startswith(f"{UPSTREAM}/auth/")]
        if with_snapshot or not auth:
            return entries
        snapshot = upstream_path("listConnections")
        return [
            e
            for i, e in enumerate(entries)
            if not (i < auth[0] and e["method"] == "GET" and e["path"] == snapshot)
        ]

    def only_request(self) -> dict[str, Any]:
        entries = self.requests()
        assert len(entries) == 1, entries
        return entries[0]

    def direct(
        self,
        method: str,
        path: str,
        *,
        user: str = ALICE_ID,
        key: str = MEMBER_KEY,
        json_body: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """meetergo's own answer, asked for with the service's key for ``user``."""
        headers = {"Authorization": f"Bearer {key}", "x-meetergo-api-user-id": user}
        return self.client.request(method, path, headers=headers, json=json_body, params=params)

    def connect(self, email: str, *, user: str = ALICE_ID, provider: str = "google") -> str:
        """A new connection made through the sandbox's consent screen; its id. Log cleared."""
        started = self.direct(
            "GET",
            upstream_path("getAuthUrl", provider=provider),
            user=user,
            params={"redirectUrl": "https://app.invalid/done"},
        )
        assert started.status_code == 200, started.text
        result = self.consent(started.json()["authUrl"], email=email)
        params = dict(parse_qsl(urlsplit(result).query))
        assert params.get("success") == "true", result
        self.clear_log()
        return params["connectionId"]

    def consent(self, auth_url: str, *, email: str) -> str:
        """Allow the calendar scope on the consent screen, as a browser; where it lands."""
        parts = urlsplit(auth_url)
        assert self.client.get(auth_url).status_code == 200
        state = dict(parse_qsl(parts.query))["state"]
        form = {"state": state, "email": email, "scope": "calendar", "decision": "allow"}
        answered = self.client.post(parts.path, data=form)
        assert answered.status_code == 303, answered.text
        callback = self.client.get(answered.headers["location"])
        assert callback.status_code == 302, callback.text
        location: str = callback.headers["location"]
        return location

    def calendar_ids(self, connection_id: str) -> dict[str, str]:
        """The connection's calendars by name (Calendar, Work, Holidays). Log cleared."""
        response = self.direct("GET", upstream_path("listCalendars", connection_id))
        assert response.status_code == 200, response.text
        self.clear_log()
        return {c["name"]: c["id"] for c in response.json()["calendars"]}


# -- the service ---------------------------------------------------------------------------------


def proxy_settings(sandbox_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "meetergo_base_url": sandbox_url,
        "upstream_deadline": DEADLINE,
        "upstream_read_timeout": READ_TIMEOUT,
        "upstream_connect_timeout": READ_TIMEOUT,
        # These tests are about the pass-through path, each call reaching meetergo: no read
        # cache, and a budget that never gets in the way (tests/quota covers both).
        "cache_ttl": 0,
        "budget_per_minute": 10_000,
        "budget_per_user_per_minute": 0,
    }
    values.update(overrides)
    return make_settings(**values)


def ticket(meetergo_user_id: str | None = ALICE_ID, sub: str = APP_USER) -> str:
    return mint_ticket(
        key=TICKET_SECRET,
        algorithm="HS256",
        audience="meetergo-calendar-bff",
        sub=sub,
        name="Alice",
        meetergo_user_id=meetergo_user_id,
    )


def cookie_value(response: httpx.Response | BrowserResponse, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        cookie, _, _ = header.partition(";")
        cookie_name, _, value = cookie.partition("=")
        if cookie_name.strip() == name and value:
            return value
    return None


@dataclass
class Bff:
    """The service as the SPA sees it, signed in as one app user."""

    client: TestClient
    origin: str = BASE_URL  # the app origin the SPA calls from
    cookie: str = ""
    extra_cookies: dict[str, str] = field(default_factory=dict)

    @property
    def app(self) -> FastAPI:
        app: FastAPI = self.client.app  # type: ignore[assignment]
        return app

    @property
    def cookie_name(self) -> str:
        sessions: SessionManager = self.app.state.sessions
        return sessions.codec.name

    def login(self, meetergo_user_id: str | None = ALICE_ID, sub: str = APP_USER) -> None:
        response = self.call(
            "POST", "/auth/session", json={"ticket": ticket(meetergo_user_id, sub)}
        )
        assert response.status_code == 200, response.text
        value = cookie_value(response, self.cookie_name)
        assert value is not None
        self.cookie = value

    def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> BrowserResponse:
        """One call from the SPA: CSRF header, app origin, session cookie, then ``headers``."""
        self.client.cookies.clear()
        sent = {"X-CSRF": "1", "Origin": self.origin}
        cookies = {self.cookie_name: self.cookie, **self.extra_cookies} if self.cookie else {}
        if cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        sent.update(headers or {})
        response: BrowserResponse = self.client.request(method, path, headers=sent, **kwargs)
        return response

    def operation(
        self,
        operation: str,
        connection_id: str = "",
        *,
        provider: str = "google",
        json_body: Any = None,
        **kwargs: Any,
    ) -> BrowserResponse:
        body = json_body if json_body is not None else body_for(operation)
        if body is not None:
            kwargs["json"] = body
        path = api_path(operation, connection_id, provider)
        return self.call(ROUTE_METHODS[operation], path, **kwargs)


@contextlib.contextmanager
def running_bff(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    meetergo_user_id: str | None = ALICE_ID,
) -> Iterator[Bff]:
    """The real service in a TestClient (lifespan on), signed in as Alice."""
    app = create_app(settings, upstream_transport=transport)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        bff = Bff(client, origin=settings.allowed_origins[0])
        bff.login(meetergo_user_id)
        yield bff


# -- assertions ----------------------------------------------------------------------------------


def assert_problem(response: BrowserResponse, status: int, code: str) -> dict[str, Any]:
    """``response`` is problem+json with this status and stable code, and carries its request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["requestId"] == response.headers["x-request-id"]
    return body


def compact(value: Any) -> bytes:
    """``value`` rendered the way the sandbox (Starlette's JSONResponse) renders it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@contextlib.contextmanager
def elapsed_at_most(seconds: float) -> Iterator[None]:
    started = time.monotonic()
    yield
    took = time.monotonic() - started
    assert took < seconds, f"took {took:.2f} s, allowed {seconds:.2f} s"


# -- raw HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names; the last value of a repeated header
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def problem_code(self) -> str | None:
        """The problem+json ``code``, or None when the answer is not one of the service's."""
        if self.headers.get("content-type") != PROBLEM_JSON:
            return None
        code: str = self.json()["code"]
        return code


def raw_request(
    server: RunningServer,
    method: str,
    target: bytes,
    *,
    headers: dict[str, str],
    body: bytes = b"",
    chunked: bool = False,
) -> RawResponse:
    """Send ``target`` exactly as given (no normalisation, no encoding) and read the answer."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: bff.test"]
    lines += [f"{name}: {value}".encode() for name, value in headers.items()]
    lines.append(b"Connection: close")
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}".encode())
    return raw_exchange(server, b"\r\n".join(lines) + b"\r\n\r\n" + body)


def raw_exchange(server: RunningServer, request: bytes) -> RawResponse:
    """Write ``request`` to a fresh connection and read the answer until the server closes it."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split(" ")[1]), parsed, payload)


# -- a tap on the real transport -----------------------------------------------------------------


class EditingTransport(httpx.AsyncBaseTransport):
    """httpx's own network transport; meetergo's raw answers are kept, and ``edit`` may add headers.

    Everything still crosses a real socket to the sandbox: only the answer's headers can be changed
    on the way back, as a proxy in front of meetergo could.
    """

    def __init__(
        self, edit: Callable[[httpx.Response], list[tuple[bytes, bytes]]] | None = None
    ) -> None:
        self._inner = httpx.AsyncHTTPTransport(verify=TLS)
        self._edit = edit
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        self.bodies.append(body)
        headers = list(response.headers.raw)
        if self._edit is not None:
            replaced = self._edit(response)
            names = {name.lower() for name, _ in replaced}
            headers = [(n, v) for n, v in headers if n.lower() not in names] + replaced
        return httpx.Response(
            response.status_code, headers=headers, content=body, extensions=response.extensions
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
