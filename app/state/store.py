"""The interface to state shared by replicas, and its one error.

What replicas share is small and short-lived: revoked sessions, used login tickets, later the
upstream request budget and cached reads. Every value is a string with a time to live, so a
backend never grows without bound and never needs a cleanup job.

Exception tree::

    SharedStateUnavailable   the backend did not answer (connection refused, timeout, failover)

Callers decide what unavailability means for them (refuse a login, or serve a stale read); no
backend retries on their behalf, because a retried ``add`` or ``incr`` whose first attempt did
reach the server would report a ticket as used or count a request twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

# Keeps the service's keys apart from anything else living in the same Redis database.
DEFAULT_PREFIX = "mbff:"
# The ValueError message of incr on a value it cannot count with, the same from every backend.
NOT_A_COUNTER = "the key holds no 64-bit integer counter that can be incremented"


class SharedStateUnavailable(Exception):
    """The shared state backend could not serve the call; the cause is chained (``from``).

    The message never contains keys or connection URLs: keys can embed ticket or session ids.
    """


class SharedState(Protocol):
    """Short-lived string values shared by every replica, each with a time to live.

    Keys are short logical names (``ticket:<digest>``); the backend adds its prefix. Every ``ttl``
    is in seconds, finite and greater than zero (``ValueError`` otherwise). Operations raise
    :class:`SharedStateUnavailable` when the backend cannot answer, except :meth:`ping`.
    """

    @property
    def name(self) -> str:
        """The backend's name for logs and readiness: ``memory`` or ``redis``."""
        ...

    async def add(self, key: str, value: str, ttl: float) -> bool:
        """Set ``key`` only if it is absent, atomically; True when this call set it.

        Of any number of concurrent calls on one key, across all replicas, exactly one gets True
        until the key expires or is deleted: the basis of single-use tickets.
        """
        ...

    async def put(self, key: str, value: str, ttl: float) -> None:
        """Set ``key`` to ``value``, replacing any value and its time to live."""
        ...

    async def get(self, key: str) -> str | None:
        """The value of ``key``, or None when it is absent or expired."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """The values of ``keys`` in order (None for each absent one), in one round trip."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing an absent key is not an error."""
        ...

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to the counter at ``key`` atomically and return the new count.

        An absent key starts at 0 and gets ``ttl``; an existing counter keeps its expiry, so a
        window counted with it ends when its first increment said. ``ValueError`` when the key
        holds something that is not a 64-bit integer.
        """
        ...

    async def ensure(self, key: str, value: str) -> str:
        """Set ``key`` to ``value`` without expiry unless it exists; the value it holds now.

        Atomic: of concurrent calls on one absent key, across all replicas, one value wins and
        every call returns that one. The only way to store a value with no time to live; it is
        meant for the state epoch (:mod:`app.state.epoch`), which must outlive everything else.
        """
        ...

    async def schedule(self, queue: str, member: str, due: float, ttl: float) -> None:
        """Put ``member`` in the durable work ``queue``, due at ``due`` (Unix seconds).

        A member already queued gets the new due time. The whole queue expires ``ttl`` seconds
        after its last ``schedule``, so an abandoned queue does not live forever.
        """
        ...

    async def take_due(self, queue: str, now: float, lease: float) -> str | None:
        """One member due at ``now`` or earlier, atomically made due again at ``now + lease``.

        The lease keeps other replicas' workers off it while this one works; a worker that dies
        meanwhile lets it come due again. None when nothing is due.
        """
        ...

    async def unschedule(self, queue: str, member: str) -> None:
        """Remove ``member`` from ``queue``; removing an absent member is not an error."""
        ...

    async def ping(self) -> bool:
        """Whether the backend answers now. Never raises: unreachable is False."""
        ...

    async def aclose(self) -> None:
        """Release what the backend holds (connections); the instance is not used afterwards."""
        ...


def check_ttl(ttl: float) -> float:
    """``ttl`` when it is a usable time to live in seconds; ``ValueError`` otherwise."""
    # `not ttl > 0` also refuses NaN, which compares false with everything.
    if not ttl > 0 or not math.isfinite(ttl):
        raise ValueError(f"ttl must be a finite number of seconds greater than 0, not {ttl!r}")
    return ttl
