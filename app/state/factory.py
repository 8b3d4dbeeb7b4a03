"""Choose the shared state backend from the settings."""

from __future__ import annotations

from app.config import Settings
from app.state.memory import MemoryState
from app.state.redis import RedisState
from app.state.store import SharedState


def open_shared_state(settings: Settings) -> SharedState:
    """Redis when ``redis_url`` is set (replicas share state), in-process memory otherwise.

    Nothing is connected yet: Redis connects on first use, and readiness (``ping``) reports
    whether it answers, so a replica starts even while Redis is briefly away.
    """
    if settings.redis_url is not None:
        return RedisState.from_url(
            settings.redis_url.get_secret_value(),
            prefix=settings.redis_prefix,
            socket_timeout=settings.redis_timeout,
            socket_connect_timeout=settings.redis_timeout,
        )
    return MemoryState(prefix=settings.redis_prefix)
