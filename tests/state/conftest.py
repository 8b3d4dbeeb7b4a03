"""Fixtures for the shared state tests: each backend, and a way to let its short ttl pass.

The memory backend runs on a fake clock, so its entries expire without sleeping. Redis keeps real
time, so its short ttl is a fraction of a second and the tests sleep just past it. Every test
works under its own key space (a uuid) and the Redis fixtures delete that key space afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
import pytest
from redis.asyncio import Redis

from app.state.memory import MemoryState
from app.state.redis import RedisState
from app.state.store import SharedState
from tests.support.redis import redis_url_or_skip

# Long enough that a loaded machine cannot stall past it between two calls, short enough that
# the whole suite sleeps well under a few seconds.
REDIS_SHORT_TTL = 0.15
_REDIS_EXPIRY_SLACK = 0.05
# A ttl no test waits out.
LONG_TTL = 60.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # redis.asyncio runs on asyncio only


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    """A backend under test, with what the behaviour suite needs to drive it."""

    name: str
    state: SharedState
    # Another handle on the same storage under a different prefix, as another part of the service
    # or another deployment sharing the Redis database would have.
    other_prefix: SharedState
    short_ttl: float
    _let_pass: Callable[[], Awaitable[None]]

    async def let_short_ttl_pass(self) -> None:
        """Return once everything stored with ``short_ttl`` has expired."""
        await self._let_pass()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def key_space() -> str:
    """A prefix of this test's own, so that tests never see each other's keys."""
    return f"mbff-test:{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    return redis_url_or_skip()


async def delete_key_space(client: Redis, key_space: str) -> None:
    """Delete every key under ``key_space`` (uuid-based, so it holds no glob characters)."""
    keys = [key async for key in client.scan_iter(match=f"{key_space}:*", count=1000)]
    if keys:
        await client.delete(*keys)


@pytest.fixture
async def redis_client(redis_url: str, key_space: str) -> AsyncIterator[Redis]:
    """A raw client to look behind the backend; the test's key space is deleted afterwards."""
    client = Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        yield client
        await delete_key_space(client, key_space)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_state(redis_url: str, key_space: str) -> AsyncIterator[RedisState]:
    state = RedisState.from_url(redis_url, prefix=f"{key_space}:a:")
    try:
        yield state
    finally:
        await state.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(
    request: pytest.FixtureRequest, clock: FakeClock, key_space: str
) -> AsyncIterator[Backend]:
    """Each backend in turn, for the behaviour suite that both must pass."""
    if request.param == "memory":
        memory = MemoryState(clock=clock, prefix=f"{key_space}:a:")
        short_ttl = 10.0

        async def advance_clock() -> None:
            clock.advance(short_ttl)

        yield Backend(
            "memory", memory, memory.prefixed(f"{key_space}:b:"), short_ttl, advance_clock
        )
        return

    # A sync, session-scoped fixture: safe to request from here (it skips, or fails in CI).
    url: str = request.getfixturevalue("redis_url")

    async def sleep_past_short_ttl() -> None:
        await anyio.sleep(REDIS_SHORT_TTL + _REDIS_EXPIRY_SLACK)

    state = RedisState.from_url(url, prefix=f"{key_space}:a:")
    cleaner = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        yield Backend(
            "redis",
            state,
            state.prefixed(f"{key_space}:b:"),
            REDIS_SHORT_TTL,
            sleep_past_short_ttl,
        )
        await delete_key_space(cleaner, key_space)
    finally:
        await state.aclose()
        await cleaner.aclose()
