"""The read cache: meetergo's answers to the two reads, per meetergo user, shared by replicas.

All of one user's entries (``connections``, ``calendars:<connection id>``) live under one key, a
Redis hash or a dictionary entry, with a *generation*. Invalidation removes the entries and moves
the generation on in one step, on every replica at once. A read remembers the generation it
looked up under, and its answer is stored only if the generation is still the same: an answer
fetched before a write cannot overwrite the invalidation that write made.

Entries keep their wall-clock storage time, so every replica computes the same ``Age``. They live
for ``cache_ttl + cache_max_stale`` seconds: fresh, then stale (served only when the budget is spent
or meetergo fails), then gone.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis

from app.state.redis import translated


@dataclass(frozen=True)
class CachedRead:
    body: bytes
    stored_at: float  # wall clock, seconds

    def age(self, now: float) -> float:
        return max(now - self.stored_at, 0.0)


@dataclass(frozen=True)
class Lookup:
    entry: CachedRead | None
    generation: str  # opaque; a store succeeds only while it is unchanged


class ReadCache(Protocol):
    async def lookup(self, user: str, name: str) -> Lookup: ...

    async def store(self, user: str, name: str, body: bytes, generation: str) -> bool:
        """Keep ``body`` as ``name`` of ``user`` unless the user was invalidated since lookup."""
        ...

    async def invalidate(self, user: str) -> None:
        """Drop every entry of ``user``, on every replica."""
        ...


def _encode(entry: CachedRead) -> bytes:
    return f"{entry.stored_at:.3f}\n".encode() + entry.body


def _decode(value: bytes | str | None) -> CachedRead | None:
    if not value:
        return None
    if isinstance(value, str):  # a client made with decode_responses
        value = value.encode()
    stamp, _, body = value.partition(b"\n")
    try:
        return CachedRead(body=body, stored_at=float(stamp))
    except ValueError:
        return None


@dataclass
class _UserEntries:
    generation: int = 0
    entries: dict[str, CachedRead] = field(default_factory=dict)
    expires_at: float = 0.0


class MemoryReadCache:
    """The cache of one process, bounded to ``max_users`` (least recently used dropped first)."""

    def __init__(
        self, lifetime: float, max_users: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._lifetime = lifetime
        self._max_users = max_users
        self._clock = clock
        self._users: OrderedDict[str, _UserEntries] = OrderedDict()

    def _user(self, user: str) -> _UserEntries | None:
        found = self._users.get(user)
        if found is not None and found.expires_at <= self._clock():
            # Like a Redis hash expiring: the entries and the generation go together.
            del self._users[user]
            return None
        return found

    async def lookup(self, user: str, name: str) -> Lookup:
        found = self._user(user)
        if found is None:
            return Lookup(None, "")
        self._users.move_to_end(user)
        return Lookup(found.entries.get(name), str(found.generation or ""))

    async def store(self, user: str, name: str, body: bytes, generation: str) -> bool:
        found = self._user(user)
        current = str(found.generation or "") if found else ""
        if current != generation:
            return False
        if found is None:
            found = self._users[user] = _UserEntries()
        now = self._clock()
        found.entries[name] = CachedRead(body, now)
        found.expires_at = now + self._lifetime
        self._users.move_to_end(user)
        while len(self._users) > self._max_users:
            self._users.popitem(last=False)
        return True

    async def invalidate(self, user: str) -> None:
        found = self._user(user)
        generation = (found.generation if found else 0) + 1
        self._users[user] = _UserEntries(generation, {}, self._clock() + self._lifetime)
        self._users.move_to_end(user)


# KEYS: the user's hash. ARGV: expected generation ('' for none), name, value, lifetime ms.
_STORE = """
local current = redis.call('HGET', KEYS[1], 'gen') or ''
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: the user's hash. ARGV: lifetime ms. Entries go, the generation moves on.
_INVALIDATE = """
local generation = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0') + 1
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'gen', generation)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return generation
"""


class RedisReadCache:
    """The cache in Redis: one hash per meetergo user, one round trip per operation."""

    def __init__(self, client: Redis, key_prefix: str, lifetime: float) -> None:
        self._client = client
        self._prefix = key_prefix
        self._lifetime_ms = max(1, math.ceil(lifetime * 1000))
        self._store = client.register_script(_STORE)
        self._invalidate = client.register_script(_INVALIDATE)

    async def lookup(self, user: str, name: str) -> Lookup:
        with translated("cache HMGET"):
            value, generation = await self._client.hmget(self._prefix + user, [name, "gen"])
        return Lookup(_decode(value), _text(generation))

    async def store(self, user: str, name: str, body: bytes, generation: str) -> bool:
        value = _encode(CachedRead(body, time.time()))
        with translated("cache store"):
            stored = await self._store(
                keys=[self._prefix + user], args=[generation, name, value, self._lifetime_ms]
            )
        return bool(stored)

    async def invalidate(self, user: str) -> None:
        with translated("cache invalidate"):
            await self._invalidate(keys=[self._prefix + user], args=[self._lifetime_ms])


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
