"""Helpers for the sandbox tests: a running sandbox with clients, and a browser-like consent run."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.app import create_sandbox_app, set_public_url
from sandbox.clock import ManualClock
from sandbox.config import SandboxSettings
from sandbox.seed import ADMIN_KEY, ALICE_ID
from tests.support.servers import serve

# Every test opens clients; loading the CA bundle once rather than per client saves seconds.
TLS = ssl.create_default_context()

API = "/v4/calendar-connections"
CONNECTIONS = f"{API}/connections"


def auth_url_path(provider: str = "google") -> str:
    return f"{API}/auth/{provider}/url"


class IsolatedSettings(SandboxSettings):
    """SandboxSettings from keyword arguments only, whatever SANDBOX_* the shell has set."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        del settings_cls, env_settings, dotenv_settings, file_secret_settings
        return (init_settings,)


def nest(status: int, message: object, error: str) -> dict[str, object]:
    return {"statusCode": status, "message": message, "error": error}


@dataclass
class Sandbox:
    """A sandbox served over a real socket, its manual clock, and the clients a test opened."""

    app: FastAPI
    url: str
    clock: ManualClock
    landing_url: str
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, headers: dict[str, str] | None = None, **options: Any) -> httpx.Client:
        client = httpx.Client(base_url=self.url, headers=headers or {}, verify=TLS, **options)
        self._clients.append(client)
        return client

    def api(
        self, key: str | None = ADMIN_KEY, user: str | None = ALICE_ID, **options: Any
    ) -> httpx.Client:
        """A client that sends ``key`` and ``user`` the way the service would."""
        headers = {}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if user is not None:
            headers["x-meetergo-api-user-id"] = user
        return self.client(headers, **options)

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()

    # --- the consent flow, as a browser walks it -------------------------------------------

    def auth_url(
        self, api: httpx.Client, provider: str = "google", **query: str
    ) -> tuple[str, str]:
        """``(authUrl, state)`` for a new flow; ``redirectUrl`` defaults to the landing server."""
        query.setdefault("redirectUrl", f"{self.landing_url}/calendar/callback")
        if query["redirectUrl"] == "":
            del query["redirectUrl"]
        response = api.get(auth_url_path(provider), params=query)
        assert response.status_code == 200, response.text
        auth_url = response.json()["authUrl"]
        return auth_url, parse_qs(urlsplit(auth_url).query)["state"][0]

    def answer_consent(
        self,
        auth_url: str,
        *,
        decision: str = "allow",
        email: str = "alice@gmail.example",
        calendar_scope: bool = True,
    ) -> httpx.Response:
        """Open the consent page, answer it, and follow every redirect to where it ends."""
        browser = self.client(follow_redirects=True)
        page = browser.get(auth_url)
        assert page.status_code == 200, page.text
        provider = urlsplit(auth_url).path.rsplit("/", 1)[-1]
        state = parse_qs(urlsplit(auth_url).query)["state"][0]
        form = {"state": state, "email": email, "decision": decision}
        if calendar_scope:
            form["scope"] = "calendar"
        return browser.post(f"/consent/{provider}", data=form)

    def connect(
        self,
        api: httpx.Client,
        provider: str = "google",
        email: str = "alice@gmail.example",
        **query: str,
    ) -> dict[str, Any]:
        """Run a successful flow; answers the new connection as the API lists it."""
        auth_url, _ = self.auth_url(api, provider, **query)
        landed = self.answer_consent(auth_url, email=email)
        result = parse_qs(landed.url.query.decode())
        assert result.get("success") == ["true"], landed.url
        connection_id = result["connectionId"][0]
        listing = api.get(
            CONNECTIONS, params={"userId": query["userId"]} if "userId" in query else {}
        )
        return next(c for c in listing.json()["connections"] if c["id"] == connection_id)


def landing_app() -> Starlette:
    """Stands in for the app behind ``redirectUrl``: answers with what it was called with."""

    async def landed(request: Request) -> JSONResponse:
        return JSONResponse({"path": request.url.path, "query": request.url.query})

    return Starlette(routes=[Route("/{rest:path}", landed)])


StartSandbox = Callable[..., Sandbox]
"""Starts a sandbox with these keyword arguments of SandboxSettings, stopped after the test."""


@contextlib.contextmanager
def running_sandbox(
    settings: SandboxSettings, landing_url: str, *, keep_public_url: bool = False
) -> Iterator[Sandbox]:
    """Serve a sandbox; its authUrls point at the server's own port unless ``keep_public_url``."""
    clock = ManualClock(1000.0)
    app = create_sandbox_app(settings, clock=clock)
    with serve(app) as server:
        if not keep_public_url:
            set_public_url(app, server.url)
        sandbox = Sandbox(app, server.url, clock, landing_url)
        try:
            yield sandbox
        finally:
            sandbox.close_clients()
