"""Shared state in Redis, so that every replica sees the same tickets, revocations and budget.

Each operation is one command (or one script) and one round trip. Timeouts are explicit and
retries are off: a retried ``SET NX`` or ``INCR`` whose first attempt reached the server would
report a fresh ticket as used or count twice, and the caller knows better whether to try again.
A pooled connection that the server closed is detected and replaced by redis-py before use.
Failures that mean "Redis cannot serve now" become :class:`SharedStateUnavailable`.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Sequence

from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.state.store import DEFAULT_PREFIX, NOT_A_COUNTER, SharedStateUnavailable, check_ttl

# Redis cannot serve the call now; anything else (a wrong type, a bad argument) is a bug.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # includes refused, reset, auth failure, loading, pool empty
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica promoted away under us during failover
    redis_errors.OutOfMemoryError,  # maxmemory reached with a no-eviction policy
    OSError,  # socket errors that escape redis-py's own wrapping
)

HEALTH_CHECK_SECONDS = 1

# INCR, then an expiry only when the key has none (PTTL -1): a new counter gets the ttl, a running
# one keeps its window. A script keeps the pair atomic on every Redis version (PEXPIRE NX is 7.0+).
_INCR_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""


# GET, or SET without expiry when absent: the state epoch, created once by whoever comes first.
# With ARGV[2] and ARGV[3], the one that sets it also publishes ARGV[3] on channel ARGV[2]
# (app/state/notices.py), in the same atomic step.
_ENSURE_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value then
  return value
end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return ARGV[1]
"""

# The first member due by ARGV[1], leased until ARGV[2]; nil when none is due.
_TAKE_DUE_SCRIPT = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then
  return false
end
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], due[1])
return due[1]
"""


def milliseconds(ttl: float) -> int:
    """``ttl`` (seconds, checked) as Redis's PX argument."""
    # Round up: a key must never expire before the ttl the caller asked for.
    return max(1, math.ceil(check_ttl(ttl) * 1000))


def _text(value: bytes | str | None) -> str | None:
    # Works with clients made with or without decode_responses.
    return value.decode() if isinstance(value, bytes) else value


class _Failures:
    """How many Redis calls of this process have failed: a change means Redis may have lost data
    (a restart or failover shows first as failed calls), so components can re-check their state."""

    count = 0


FAILURES = _Failures()


@contextlib.contextmanager
def translated(operation: str) -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE as exc:
        FAILURES.count += 1
        # Name the command only: keys may hold ticket or session ids, URLs may hold a password.
        raise SharedStateUnavailable(
            f"redis did not serve {operation}: {type(exc).__name__}"
        ) from exc
    except redis_errors.ResponseError as exc:
        if not _forbidden(exc):
            raise  # a wrong type or argument: a bug, not an outage
        # An ACL that forbids a command we need (PUBLISH for revocation notices, say): a
        # deployment error, but to a request the same as a Redis that cannot serve it (503).
        raise SharedStateUnavailable(
            f"redis did not serve {operation}: the Redis user's ACL forbids it"
        ) from exc


def _forbidden(exc: redis_errors.ResponseError) -> bool:
    """A command refused by the Redis user's ACL, directly or inside one of our scripts."""
    if isinstance(exc, redis_errors.NoPermissionError):
        return True
    return "can't run this command" in str(exc)  # Redis's wording for a script's call


@contextlib.contextmanager
def _first_read(operation: str) -> Iterator[None]:
    """A read whose connection broke is tried once more: a pooled connection to a Redis that has
    restarted fails on first use, and a read changes nothing, so repeating it is safe."""
    try:
        yield
    except _UNAVAILABLE:
        FAILURES.count += 1


_READ_ATTEMPTS = (_first_read, translated)


class RedisState:
    """:class:`~app.state.store.SharedState` in Redis, for several replicas.

    Build it with :meth:`from_url` (it then owns and closes its connections), or around an
    existing ``redis.asyncio.Redis`` client that the caller keeps owning. Every key is stored as
    ``prefix + key``.
    """

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        self._owns_client = False
        self._incr = client.register_script(_INCR_SCRIPT)
        self._ensure = client.register_script(_ENSURE_SCRIPT)
        self._take_due = client.register_script(_TAKE_DUE_SCRIPT)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = 1.0,
        socket_connect_timeout: float = 1.0,
        max_connections: int = 50,
        pool_timeout: float = 1.0,
        client_name: str | None = "meetergo-bff",
    ) -> RedisState:
        """Connect lazily to ``url`` (``redis://``, ``rediss://`` or ``unix://``).

        ``socket_timeout`` bounds each command's wait for an answer, ``socket_connect_timeout``
        each new connection. At most ``max_connections`` are open; a call waits up to
        ``pool_timeout`` for a free one, then fails as unavailable instead of queueing forever.
        ``client_name`` labels the connections in Redis's ``CLIENT LIST`` for operators.
        """
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            retry=Retry(NoBackoff(), retries=0),
            # A connection idle this long is checked (PING) before use: after Redis restarts, a
            # pooled connection to the old process fails its check, not a caller's command.
            health_check_interval=HEALTH_CHECK_SECONDS,
            client_name=client_name,
        )
        state = cls(Redis.from_pool(pool), prefix=prefix)
        state._owns_client = True
        return state

    @property
    def name(self) -> str:
        return "redis"

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def client(self) -> Redis:
        """The connections, for components with Redis-specific needs (the budget's scripts).

        They wrap their calls in :func:`translated` and put their keys under :attr:`prefix`.
        """
        return self._client

    def prefixed(self, prefix: str) -> RedisState:
        """A view on the same connections under another prefix; closing it closes nothing.

        Choose prefixes that are not prefixes of one another, or their keys can meet.
        """
        view = copy.copy(self)
        view._prefix = prefix
        view._owns_client = False
        return view

    async def add(self, key: str, value: str, ttl: float) -> bool:
        ms = milliseconds(ttl)
        with translated("SET NX"):
            created = await self._client.set(self._prefix + key, value, px=ms, nx=True)
        return bool(created)

    async def put(self, key: str, value: str, ttl: float) -> None:
        ms = milliseconds(ttl)
        with translated("SET"):
            await self._client.set(self._prefix + key, value, px=ms)

    async def get(self, key: str) -> str | None:
        for attempt in _READ_ATTEMPTS:
            with attempt("GET"):
                value = await self._client.get(self._prefix + key)
                break
        return _text(value)

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []  # MGET without keys is a syntax error in Redis
        for attempt in _READ_ATTEMPTS:
            with attempt("MGET"):
                values = await self._client.mget([self._prefix + key for key in keys])
                break
        return [_text(value) for value in values]

    async def delete(self, key: str) -> None:
        with translated("DEL"):
            await self._client.delete(self._prefix + key)

    async def incr(self, key: str, ttl: float) -> int:
        ms = milliseconds(ttl)
        with translated("INCR"):
            try:
                count = await self._incr(keys=[self._prefix + key], args=[ms])
            except redis_errors.ResponseError as exc:
                if isinstance(exc, _UNAVAILABLE):
                    raise
                # The script's only other failure: INCR on a value that is not a 64-bit integer
                # (or would overflow one), the same refusal the memory backend makes.
                raise ValueError(NOT_A_COUNTER) from exc
        return int(count)

    async def ensure(self, key: str, value: str, *, announce: tuple[str, str] | None = None) -> str:
        """:meth:`SharedState.ensure`; ``announce`` (channel, message) is published if it sets."""
        with translated("ENSURE" if announce is None else "ENSURE+PUBLISH"):
            held = await self._ensure(keys=[self._prefix + key], args=[value, *(announce or ())])
        return str(_text(held))

    async def schedule(self, queue: str, member: str, due: float, ttl: float) -> None:
        ms = milliseconds(ttl)
        with translated("ZADD"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(self._prefix + queue, {member: due})
                pipe.pexpire(self._prefix + queue, ms)
                await pipe.execute()

    async def take_due(self, queue: str, now: float, lease: float) -> str | None:
        with translated("TAKE DUE"):
            member = await self._take_due(keys=[self._prefix + queue], args=[now, now + lease])
        return _text(member) if member else None

    async def unschedule(self, queue: str, member: str) -> None:
        with translated("ZREM"):
            await self._client.zrem(self._prefix + queue, member)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except Exception:  # noqa: BLE001 - readiness asks a yes/no question; any failure is "no"
            return False

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
