"""The settings choose the backend: Redis when a URL is set, in-process memory otherwise."""

from __future__ import annotations

import pytest

from app.state.factory import open_shared_state
from app.state.memory import MemoryState
from app.state.redis import RedisState
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


async def test_without_a_redis_url_state_stays_in_process() -> None:
    state = open_shared_state(make_settings())
    try:
        assert isinstance(state, MemoryState)
        assert state.name == "memory"
        assert state.prefix == "mbff:"
    finally:
        await state.aclose()


@pytest.mark.redis
async def test_with_a_redis_url_state_lives_in_that_redis(redis_url: str) -> None:
    state = open_shared_state(make_settings(redis_url=redis_url))
    try:
        assert isinstance(state, RedisState)
        assert state.name == "redis"
        assert state.prefix == "mbff:"
        assert await state.ping() is True
    finally:
        await state.aclose()


async def test_a_replica_starts_while_redis_is_away_and_reports_not_ready() -> None:
    # Opening connects nothing; readiness (ping) is where an absent Redis shows.
    state = open_shared_state(make_settings(redis_url="redis://127.0.0.1:1/0"))
    try:
        assert state.name == "redis"
        assert await state.ping() is False
    finally:
        await state.aclose()
