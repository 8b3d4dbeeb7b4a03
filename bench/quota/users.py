"""Simulated users: the same plan sent through the service's replicas, or straight to meetergo.

``ServiceUser`` is a browser talking to the service: a session from a login ticket, the session
and flow cookies kept by hand (Python clients send ``Secure`` cookies over https only), ``X-CSRF``
on every call and ``Origin`` on writes, each request to one of the replicas picked at random (a
load balancer without affinity). ``DirectUser`` is what the service replaces: the SPA calling
meetergo itself with the company's key (``Authorization`` and ``x-meetergo-api-user-id``).

Both run a connection through the sandbox's consent screen without a browser: the provider's form
is posted as the browser would post it, and the redirects are followed by hand.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx

from app.errors import CATALOG, ErrorCode
from app.session.tickets import mint_ticket
from bench.quota.workload import Action, AppUser
from sandbox.seed import MEMBER_KEY

UPSTREAM_API = "/v4/calendar-connections"
AUDIENCE = "meetergo-calendar-bff"
APP_RETURN_PATH = "/settings"
"""Where the app wants the user back after connecting (never loaded by the benchmark)."""


@dataclass
class Outcome:
    """One user request and how it was answered."""

    variant: str
    app_user: int
    kind: str
    """``list``, ``calendars``, ``patch``, ``primary``, ``delete`` or ``connect``."""
    started: float
    """Seconds from the start of the run."""
    latency: float
    status: int | None
    result: str
    """``fresh``, ``hit`` (fresh, cached), ``stale``, ``429``, ``5xx``, ``4xx`` or ``error``."""
    retry_after: str | None = None
    cache_status: str | None = None
    age: str | None = None
    code: str | None = None
    target: str | None = None

    @property
    def write(self) -> bool:
        return self.kind in ("patch", "primary", "delete", "connect")

    @property
    def ok(self) -> bool:
        return self.result in ("fresh", "hit", "stale")


def classify(response: httpx.Response) -> str:
    """What a user got. Stale and cached answers are recognised by RFC 9211's ``Cache-Status``.

    An answer is stale when the cache says its freshness is spent: a negative ``ttl`` (the
    service's stale-if-error and budget-spent copies both carry one) or a ``detail`` naming
    staleness. ``fwd=stale`` alone is not a stale answer: RFC 9211 uses it for a request the cache
    *forwarded* because its copy was stale, so the answer is meetergo's, fetched just now.
    """
    status = response.status_code
    if status == 429:
        return "429"
    if status >= 500:
        return "5xx"
    if status >= 400:
        return "4xx"
    cache_status = response.headers.get("cache-status", "").lower().replace(" ", "")
    if "ttl=-" in cache_status or "detail=stale" in cache_status:
        return "stale"
    if "hit" in cache_status:
        return "hit"
    return "fresh"


def _problem_code(response: httpx.Response) -> str | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        code = body.get("code")
        return str(code) if code is not None else None
    return None


def _status_of_code(code: str | None) -> int:
    try:
        return CATALOG[ErrorCode(code or "")].status
    except ValueError:
        return 400  # a provider's own error (access_denied, ...) or none at all


class BaseUser:
    variant = ""

    def __init__(
        self,
        user: AppUser,
        client: httpx.AsyncClient,
        sandbox_url: str,
        started: float,
        outcomes: list[Outcome],
    ) -> None:
        self.user = user
        self.client = client
        self.sandbox_url = sandbox_url
        self.started = started
        self.outcomes = outcomes
        self.lateness: list[float] = []
        """Per action, how long after its planned moment it began: the client keeping up?"""

    # -- what a variant supplies -----------------------------------------------------------------
    async def send(
        self, method: str, api_path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        raise NotImplementedError

    async def connect(self, email: str) -> tuple[bool, int | None, str | None, httpx.Response]:
        """Run a connection flow; ``(success, status, problem code, last response)``."""
        raise NotImplementedError

    # -- the plan ----------------------------------------------------------------------------------
    async def run(self, deadline: float) -> None:
        for action in self.user.actions:
            delay = self.started + action.time - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() > deadline:
                return
            self.lateness.append(max(0.0, time.monotonic() - self.started - action.time))
            await self.perform(action)

    async def perform(self, action: Action) -> None:
        if action.kind == "open":
            await self.open_page()
            return
        target = action.target or ""
        if action.kind == "patch":
            await self.call("patch", "PATCH", f"/connections/{target}", action.body, target)
        elif action.kind == "primary":
            await self.call("primary", "POST", f"/connections/{target}/set-primary", None, target)
        elif action.kind == "delete":
            await self.call("delete", "DELETE", f"/connections/{target}", None, target)
        else:
            await self.timed_connect(str((action.body or {})["email"]))
        await self.call("list", "GET", "/connections")  # the SPA refreshes after a change

    async def open_page(self) -> None:
        listed = await self.call("list", "GET", "/connections")
        if listed is None or listed.status_code != 200:
            return
        try:
            connections = listed.json().get("connections") or []
        except ValueError:
            return
        for connection in connections:
            cid = str(connection.get("id"))
            await self.call("calendars", "GET", f"/connections/{cid}/calendars", None, cid)

    async def call(
        self,
        kind: str,
        method: str,
        api_path: str,
        body: dict[str, Any] | None = None,
        target: str | None = None,
    ) -> httpx.Response | None:
        return await self._timed(kind, target, lambda: self.send(method, api_path, body))

    async def timed_connect(self, email: str) -> None:
        began = time.monotonic()
        try:
            success, status, code, response = await self.connect(email)
        except httpx.HTTPError as exc:
            self._note("connect", None, began, None, "error", code=type(exc).__name__)
            return
        if success:
            result = "fresh"
        elif status is not None and status >= 400:
            result = classify(response)
        else:
            # The flow ended on the app's page with an error code: count it at that code's status.
            status = _status_of_code(code)
            result = "429" if status == 429 else "5xx" if status >= 500 else "4xx"
        self._note("connect", None, began, response, result, status=status, code=code)

    async def _timed(
        self, kind: str, target: str | None, send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response | None:
        began = time.monotonic()
        try:
            response = await send()
        except httpx.HTTPError as exc:
            self._note(kind, target, began, None, "error", code=type(exc).__name__)
            return None
        self._note(kind, target, began, response, classify(response))
        return response

    def _note(
        self,
        kind: str,
        target: str | None,
        began: float,
        response: httpx.Response | None,
        result: str,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        headers = response.headers if response is not None else httpx.Headers()
        self.outcomes.append(
            Outcome(
                variant=self.variant,
                app_user=self.user.index,
                kind=kind,
                started=round(began - self.started, 3),
                latency=time.monotonic() - began,
                status=status if status is not None else getattr(response, "status_code", None),
                result=result,
                retry_after=headers.get("retry-after"),
                cache_status=headers.get("cache-status"),
                age=headers.get("age"),
                code=code or (_problem_code(response) if response is not None else None),
                target=target,
            )
        )

    # -- the provider's consent screen and meetergo's redirects, as a browser walks them ----------
    async def consent(self, auth_url: str, email: str) -> str:
        """Allow on the consent screen; the URL meetergo finally redirects the browser to."""
        parts = urlsplit(auth_url)
        if parts.hostname != "127.0.0.1":
            raise RuntimeError(f"refusing to leave loopback: {auth_url}")
        state = dict(parse_qsl(parts.query))["state"]
        form = {"state": state, "email": email, "scope": "calendar", "decision": "allow"}
        answered = await self.client.post(
            f"{self.sandbox_url}{parts.path}",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if answered.status_code != 303:
            raise RuntimeError(f"consent: {answered.status_code} {answered.text[:200]}")
        callback = await self.client.get(
            f"{self.sandbox_url}{answered.headers['location']}", headers={}
        )
        if callback.status_code != 302:
            raise RuntimeError(f"provider callback: {callback.status_code}")
        return str(callback.headers["location"])


class DirectUser(BaseUser):
    """The SPA calling meetergo with the company's key: what happens without the service."""

    variant = "direct"

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {MEMBER_KEY}",
            "x-meetergo-api-user-id": self.user.meetergo_user_id,
        }

    async def send(
        self, method: str, api_path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.client.request(
            method,
            f"{self.sandbox_url}{UPSTREAM_API}{api_path}",
            json=body,
            headers=self._headers(),
        )

    async def connect(self, email: str) -> tuple[bool, int | None, str | None, httpx.Response]:
        app_page = f"http://127.0.0.1:9{APP_RETURN_PATH}"  # port 9 (discard): never loaded
        started = await self.client.get(
            f"{self.sandbox_url}{UPSTREAM_API}/auth/google/url",
            params={"redirectUrl": app_page},
            headers=self._headers(),
        )
        if started.status_code != 200:
            return False, started.status_code, None, started
        landed = await self.consent(started.json()["authUrl"], email)
        result = dict(parse_qsl(urlsplit(landed).query))
        return result.get("success") == "true", None, result.get("message"), started


class ServiceUser(BaseUser):
    """A browser with a session on the service; every request to a replica picked at random."""

    variant = "service"

    def __init__(  # noqa: PLR0917 - every part is needed
        self,
        user: AppUser,
        client: httpx.AsyncClient,
        sandbox_url: str,
        started: float,
        outcomes: list[Outcome],
        replicas: list[str],
        public_url: str,
        rng: random.Random,
    ) -> None:
        super().__init__(user, client, sandbox_url, started, outcomes)
        self.replicas = replicas
        self.public_url = public_url
        self.rng = rng
        self.cookies: dict[str, str] = {}

    def _replica(self) -> str:
        return self.rng.choice(self.replicas)

    def _headers(self, *, unsafe: bool) -> dict[str, str]:
        headers = {"X-CSRF": "1"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if unsafe:
            headers["Origin"] = self.public_url
        return headers

    def _keep_cookies(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                gone = morsel["max-age"] == "0" or "1970" in morsel["expires"]
                if gone or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def login(self, ticket_secret: str) -> None:
        ticket = mint_ticket(
            key=ticket_secret,
            algorithm="HS256",
            audience=AUDIENCE,
            sub=self.user.sub,
            meetergo_user_id=self.user.meetergo_user_id,
            ttl=300,
        )
        response = await self.client.post(
            f"{self._replica()}/auth/session",
            json={"ticket": ticket},
            headers=self._headers(unsafe=True),
        )
        if response.status_code != 200:
            raise RuntimeError(f"login: {response.status_code} {response.text[:300]}")
        self._keep_cookies(response)

    async def send(
        self, method: str, api_path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        response = await self.client.request(
            method,
            f"{self._replica()}/api{UPSTREAM_API}{api_path}",
            json=body,
            headers=self._headers(unsafe=method != "GET"),
        )
        self._keep_cookies(response)
        return response

    async def connect(self, email: str) -> tuple[bool, int | None, str | None, httpx.Response]:
        return_to = f"{self.public_url}{APP_RETURN_PATH}"
        start = await self.client.get(
            f"{self._replica()}/connect/google?mode=redirect&returnTo={quote(return_to, safe='')}",
            headers=self._headers(unsafe=False),
        )
        self._keep_cookies(start)
        location = start.headers.get("location", "")
        if start.status_code != 303 or location.startswith(return_to):
            result = dict(parse_qsl(urlsplit(location).query))
            return (
                False,
                start.status_code if start.status_code != 303 else None,
                result.get("code"),
                start,
            )
        landed = urlsplit(await self.consent(location, email))
        callback = await self.client.get(
            f"{self._replica()}{landed.path}?{landed.query}", headers=self._headers(unsafe=False)
        )
        self._keep_cookies(callback)
        result = dict(parse_qsl(urlsplit(callback.headers.get("location", "")).query))
        if callback.status_code != 303:
            return False, callback.status_code, _problem_code(callback), callback
        return result.get("success") == "true", None, result.get("code"), callback
