"""Several replicas of the service on real sockets, sharing one Redis, in front of one sandbox.

Each replica is a genuine uvicorn server; the test talks to them as browsers would (cookie, CSRF
header, Origin), concurrently, and counts what reached meetergo in the sandbox's request log.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from app.main import create_app
from app.session.sessions import SessionManager
from app.state.redis import RedisState
from tests.proxy.support import API, BASE_URL, GUARD, cookie_value, proxy_settings, ticket
from tests.support.servers import RunningServer, serve


@dataclass
class Replica:
    app: FastAPI
    server: RunningServer
    cookies: dict[str, str] = field(default_factory=dict)  # app user -> session cookie

    @property
    def cookie_name(self) -> str:
        sessions: SessionManager = self.app.state.sessions
        return sessions.codec.name

    def login(self, user: str, meetergo_user_id: str, *, attempts: int = 1) -> None:
        for _ in range(attempts):
            # An SPA retries a 503 after its Retry-After; a ticket minted before the service
            # noticed that Redis lost its data is refused (ticket_expired): the app mints another.
            response = httpx.post(
                f"{self.server.url}/auth/session",
                json={"ticket": ticket(meetergo_user_id, sub=user)},
                headers=GUARD,
                timeout=10,
            )
            if response.status_code not in (401, 503):
                break
        assert response.status_code == 200, response.text
        value = cookie_value(response, self.cookie_name)
        assert value is not None
        self.cookies[user] = value

    def headers(self, user: str) -> dict[str, str]:
        return {**GUARD, "Cookie": f"{self.cookie_name}={self.cookies[user]}"}

    async def call(
        self, client: httpx.AsyncClient, user: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        return await client.request(
            method, self.server.url + API + path, headers=self.headers(user), **kwargs
        )


def quota_settings(sandbox_url: str, **overrides: Any) -> Any:
    """The product's budget and cache defaults; the proxy tests' timeouts."""
    values: dict[str, Any] = {
        "cache_ttl": 30,
        "budget_per_minute": 90,
        "budget_per_user_per_minute": 20,
        # These tests send a hundred requests at once to one worker on purpose: the per-worker
        # overload bound (tests/proxy/test_overload.py) is not what they measure.
        "max_in_flight": 1000,
        **overrides,
    }
    return proxy_settings(sandbox_url, **values)


@contextlib.contextmanager
def replicas(
    count: int, sandbox_url: str, redis_url: str | None, **overrides: Any
) -> Iterator[list[Replica]]:
    """``count`` replicas sharing a Redis key space of their own (or one process, without)."""
    prefix = f"t-{uuid.uuid4().hex[:12]}:"
    settings = quota_settings(
        sandbox_url, redis_url=redis_url, redis_prefix=prefix, redis_timeout=0.5, **overrides
    )
    with contextlib.ExitStack() as stack:
        running = []
        for _ in range(count):
            state = (
                RedisState.from_url(redis_url, prefix=prefix, socket_timeout=0.5)
                if redis_url
                else None
            )
            app = create_app(settings, shared_state=state)
            replica = Replica(app, stack.enter_context(serve(app)))
            _warm_up(replica)
            running.append(replica)
        yield running


def _warm_up(replica: Replica) -> None:
    """Let FastAPI build its routes lazily now, one server at a time.

    It builds them under ``warnings.catch_warnings()``, which is process-global: servers in
    several threads of one test process building at once can let one another's suppressed
    warnings escape, and pytest turns warnings into errors. One process per replica (production)
    never meets this.
    """
    response = httpx.get(f"{replica.server.url}{API}/no-such-route", headers=GUARD, timeout=10)
    assert response.status_code in (401, 404), response.text


def gather(*calls: Any) -> list[httpx.Response]:
    """Run coroutines that take a client concurrently; their answers, in order."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:
            return list(await asyncio.gather(*(call(client) for call in calls)))

    return asyncio.run(run())


def statuses(responses: Sequence[httpx.Response]) -> dict[int, int]:
    counted: dict[int, int] = {}
    for response in responses:
        counted[response.status_code] = counted.get(response.status_code, 0) + 1
    return counted


def reached(entries: Sequence[dict[str, Any]], suffix: str = "") -> int:
    """How many requests reached meetergo's API (paths ending with ``suffix``)."""
    return sum(1 for entry in entries if str(entry["path"]).endswith(suffix))


__all__ = ["BASE_URL"]
