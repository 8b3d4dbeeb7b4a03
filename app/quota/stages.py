"""The pipeline stages that spend meetergo's budget: the read cache, then the budget itself.

``ReadCacheStage`` answers fresh reads from the cache, lets one fetch per user and read run at a
time (in this process by sharing the fetch, across replicas by a short lock in shared state while
the others wait for the entry it stores), serves a stale copy when the budget is spent or
meetergo fails, and invalidates a user's entries after every write. ``BudgetStage`` admits each
upstream call, retries included, and turns meetergo's own 429 into a pause of every replica.

Every answer that touched the cache says how, in ``Cache-Status`` (RFC 9211) and ``Age``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from app.config import Settings
from app.errors import ErrorCode, ProblemError
from app.ops.metrics import Metrics
from app.quota.budget import BudgetRefused, Priority, UpstreamBudget
from app.quota.cache import CachedRead, Lookup, ReadCache
from app.state.store import SharedState, SharedStateUnavailable
from app.upstream.call import Handler, UpstreamCall, UpstreamResult
from app.upstream.retry_after import retry_after_seconds

logger = logging.getLogger(__name__)

# Failures after which a stale copy is better than an error.
_STALE_ON = frozenset(
    {
        ErrorCode.UPSTREAM_RATE_LIMITED,
        ErrorCode.RATE_LIMITED,
        ErrorCode.UPSTREAM_TIMEOUT,
        ErrorCode.UPSTREAM_UNAVAILABLE,
        ErrorCode.UPSTREAM_BAD_RESPONSE,
    }
)
_POLL_FIRST, _POLL_MAX = 0.02, 0.2


def cache_name(call: UpstreamCall) -> str | None:
    """The entry a read is kept under, or None for calls that are never cached."""
    operation = call.route.operation_id
    if operation == "listConnections":
        return "connections"
    if operation == "listCalendars":
        return "calendars:" + call.path_params["connectionId"]
    return None


def default_priority(call: UpstreamCall) -> Priority:
    """Writes and connects (``getAuthUrl`` starts one) may use the reserve; reads may not."""
    if not call.route.is_read or call.route.operation_id == "getAuthUrl":
        return Priority.WRITE
    return Priority.FIRST_READ


@dataclass
class _Flight:
    """One fetch in progress, and how many callers wait for it."""

    task: asyncio.Task[UpstreamResult]
    waiters: int = 0


class ReadCacheStage:
    def __init__(
        self,
        settings: Settings,
        cache: ReadCache,
        *,
        locks: SharedState | None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._ttl = settings.cache_ttl
        self._max_stale = settings.cache_max_stale
        self._locks = locks if settings.cache_ttl > 0 else None
        self._lock_ttl = settings.upstream_deadline + settings.budget_max_wait + 1
        self._metrics = metrics
        self._clock = clock
        self._inflight: dict[str, _Flight] = {}

    async def __call__(self, call: UpstreamCall, following: Handler) -> UpstreamResult:
        name = cache_name(call)
        if name is None:
            if default_priority(call) is Priority.WRITE and call.route.operation_id != "getAuthUrl":
                try:
                    return await following(call)
                finally:
                    # Whatever the outcome: a write that timed out may still have been applied.
                    await self.invalidate(call.meetergo_user_id)
            return await following(call)
        if call.fresh:
            return await self._fetch_fresh(call, name, following)
        return await self._read(call, name, following)

    async def invalidate(self, meetergo_user_id: str) -> None:
        """Drop the user's cached reads on every replica (after writes and connect flows)."""
        try:
            await self._cache.invalidate(meetergo_user_id)
        except SharedStateUnavailable:
            # The entries age out within cache_ttl; nothing else can be done without Redis.
            logger.warning("could not invalidate a user's cached reads: shared state unavailable")

    # -- reads -----------------------------------------------------------------------------------
    async def _read(self, call: UpstreamCall, name: str, following: Handler) -> UpstreamResult:
        user = call.meetergo_user_id
        lookup = await self._lookup(user, name)
        now = self._clock()
        entry = lookup.entry
        if entry is not None and entry.age(now) < self._ttl:
            self._count("hit")
            return _cached(entry, now, f"hit; ttl={math.floor(self._ttl - entry.age(now))}")
        usable = entry is not None and entry.age(now) < self._ttl + self._max_stale
        stale = entry if usable and call.allow_stale else None
        priority = Priority.REFRESH if stale is not None else Priority.FIRST_READ
        try:
            result, collapsed = await self._single_flight(
                replace(call, priority=priority), name, lookup, following
            )
        except ProblemError as exc:
            if stale is not None and exc.code in _STALE_ON:
                return self._serve_stale(stale, exc)
            raise
        if stale is not None and (result.status >= 500 or result.status == 429):
            return self._serve_stale(stale, None, result.status)
        if not 200 <= result.status < 300:
            return result
        if collapsed:
            self._count("collapsed")
            return replace(result, cache_status="fwd=miss; collapsed")
        return result

    async def _single_flight(
        self, call: UpstreamCall, name: str, lookup: Lookup, following: Handler
    ) -> tuple[UpstreamResult, bool]:
        key = f"{call.meetergo_user_id}\x00{name}"
        flight = self._inflight.get(key)
        collapsed = flight is not None
        if flight is None:
            task = asyncio.ensure_future(self._lead(call, name, lookup, following))
            flight = self._inflight[key] = _Flight(task)
            task.add_done_callback(lambda done: self._finished(key, done))
        flight.waiters += 1
        try:
            # Shielded: a caller that goes away does not cancel the fetch others wait for...
            result = await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                # ...but once every caller has gone, nobody needs it: meetergo's answer would be
                # read for nobody, holding a connection and the budget's slot meanwhile. It leaves
                # the table at once, so a caller arriving next starts a fetch of its own.
                if self._inflight.get(key) is flight:
                    del self._inflight[key]
                flight.task.cancel()
        return result, collapsed

    def _finished(self, key: str, task: asyncio.Task[UpstreamResult]) -> None:
        flight = self._inflight.get(key)
        if flight is not None and flight.task is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: the waiters raise it themselves

    async def _lead(
        self, call: UpstreamCall, name: str, lookup: Lookup, following: Handler
    ) -> UpstreamResult:
        """Fetch, unless another replica is already fetching: then take what it stores."""
        user = call.meetergo_user_id
        lock = None
        if self._locks is not None:
            lock = "fill:" + hashlib.sha256(f"{user}\x00{name}".encode()).hexdigest()[:32]
            started = self._clock()
            if not await self._take(lock):
                other = await self._await_other_replica(user, name, lock, started)
                if other is not None:
                    self._count("collapsed")
                    return _cached(other, self._clock(), "fwd=miss; collapsed")
                lock = lock if await self._take(lock) else None
            # Another replica may have stored the entry between our look-up and our lock.
            again = await self._lookup(user, name)
            if (
                again.entry is not None
                and (lookup.entry is None or again.entry.stored_at > lookup.entry.stored_at)
                and again.entry.age(self._clock()) < self._ttl
            ):
                if lock is not None:
                    await self._release(lock)
                self._count("collapsed")
                return _cached(again.entry, self._clock(), "fwd=miss; collapsed")
        try:
            return await self._fetch(call, name, lookup.generation, following)
        finally:
            if lock is not None:
                await self._release(lock)

    async def _fetch(
        self, call: UpstreamCall, name: str, generation: str, following: Handler
    ) -> UpstreamResult:
        result = await following(call)
        if not 200 <= result.status < 300 or not _is_json(result.body):
            return result  # the answer maps it to a problem; a broken body is never kept
        self._count("miss")
        if self._ttl <= 0:
            return replace(result, cache_status="fwd=miss", json_checked=True)
        stored = await self._store(call.meetergo_user_id, name, result.body, generation)
        forward = "stale" if call.priority is Priority.REFRESH else "miss"
        status = f"fwd={forward}" + ("; stored" if stored else "")
        return replace(result, cache_status=status, json_checked=True)

    async def _fetch_fresh(
        self, call: UpstreamCall, name: str, following: Handler
    ) -> UpstreamResult:
        """A read that must see meetergo's current answer (the connect callback's confirmation)."""
        self._count("bypass")
        lookup = await self._lookup(call.meetergo_user_id, name)
        result = await following(call)
        checked = 200 <= result.status < 300 and _is_json(result.body)
        if checked and self._ttl > 0:
            await self._store(call.meetergo_user_id, name, result.body, lookup.generation)
        return replace(result, cache_status="fwd=request", json_checked=checked)

    async def _await_other_replica(
        self, user: str, name: str, lock: str, started: float
    ) -> CachedRead | None:
        """The entry another replica stores for this read, or None once its lock is gone."""
        assert self._locks is not None  # noqa: S101 - only called with cross-replica locks
        interval = _POLL_FIRST
        give_up = time.monotonic() + self._lock_ttl
        while time.monotonic() < give_up:
            await asyncio.sleep(interval)
            interval = min(interval * 2, _POLL_MAX)
            lookup = await self._lookup(user, name)
            if lookup.entry is not None and lookup.entry.stored_at >= started - 0.001:
                return lookup.entry
            try:
                if await self._locks.get(lock) is None:
                    return None
            except SharedStateUnavailable:
                return None
        return None

    def _serve_stale(
        self, entry: CachedRead, exc: ProblemError | None, status: int | None = None
    ) -> UpstreamResult:
        now = self._clock()
        overdue = math.ceil(entry.age(now) - self._ttl)
        budget = exc is not None and exc.code in (
            ErrorCode.UPSTREAM_RATE_LIMITED,
            ErrorCode.RATE_LIMITED,
        )
        self._count("stale")
        if budget:
            # Not forwarded: the budget had no call to spare. RFC 9211: a hit whose ttl is < 0.
            return _cached(entry, now, f"hit; ttl=-{overdue}; detail=stale-budget-spent")
        code = status if status is not None else (exc.spec.status if exc is not None else 502)
        return _cached(
            entry, now, f"fwd=stale; fwd-status={code}; ttl=-{overdue}; detail=stale-if-error"
        )

    # -- state, guarded -----------------------------------------------------------------------
    async def _lookup(self, user: str, name: str) -> Lookup:
        if self._ttl <= 0:
            return Lookup(None, "")
        try:
            return await self._cache.lookup(user, name)
        except SharedStateUnavailable:
            return Lookup(None, "\x00unavailable")  # a generation no store can match

    async def _store(self, user: str, name: str, body: bytes, generation: str) -> bool:
        try:
            return await self._cache.store(user, name, body, generation)
        except SharedStateUnavailable:
            return False

    async def _take(self, lock: str) -> bool:
        assert self._locks is not None  # noqa: S101 - only called with cross-replica locks
        try:
            return await self._locks.add(lock, secrets.token_hex(8), self._lock_ttl)
        except SharedStateUnavailable:
            return True  # no coordination without Redis: fetch, the budget still bounds it

    async def _release(self, lock: str) -> None:
        assert self._locks is not None  # noqa: S101 - only called with cross-replica locks
        with contextlib.suppress(SharedStateUnavailable):  # it expires by itself
            await self._locks.delete(lock)

    def _count(self, outcome: str) -> None:
        if self._metrics:
            self._metrics.cache_reads.labels(outcome).inc()


def _is_json(body: bytes) -> bool:
    """Whether ``body`` is a JSON document: what every read answers, and all a cache may keep."""
    if not body:
        return False
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _cached(entry: CachedRead, now: float, status: str) -> UpstreamResult:
    # Only JSON documents are stored (_fetch): the answer need not parse the body again.
    return UpstreamResult(
        status=200,
        body=entry.body,
        cache_status=status,
        age=math.floor(entry.age(now)),
        json_checked=True,
    )


class BudgetStage:
    """Admit the call against the shared budget; turn meetergo's 429 into a pause for all."""

    def __init__(
        self, settings: Settings, budget: UpstreamBudget, *, metrics: Metrics | None = None
    ) -> None:
        self._budget = budget
        self._max_wait = settings.budget_max_wait
        self._refresh_wait = settings.budget_refresh_wait
        self._pause = settings.upstream_rate_limit_pause
        self._metrics = metrics

    async def __call__(self, call: UpstreamCall, following: Handler) -> UpstreamResult:
        priority = call.priority or default_priority(call)
        max_wait = self._refresh_wait if priority is Priority.REFRESH else self._max_wait
        try:
            await self._budget.acquire(
                priority, None if call.system else call.app_user_hash, max_wait
            )
        except BudgetRefused as exc:
            code = (
                ErrorCode.RATE_LIMITED if exc.scope == "user" else ErrorCode.UPSTREAM_RATE_LIMITED
            )
            raise ProblemError(code, headers={"Retry-After": exc.retry_after_header}) from None
        result = await following(call)
        if result.status == 429:
            await self._on_upstream_429(call, result)
        return result

    async def admit_retry(self, call: UpstreamCall) -> bool:
        """Whether a retry of ``call`` may go now: every attempt spends the budget."""
        priority = call.priority or default_priority(call)
        try:
            await self._budget.acquire(priority, None, 0.0)
        except BudgetRefused:
            return False
        return True

    async def _on_upstream_429(self, call: UpstreamCall, result: UpstreamResult) -> None:
        pause = retry_after_seconds(result.retry_after) or self._pause
        await self._budget.pause(pause)
        logger.error(
            "meetergo answered 429 to %s despite the budget: every replica pauses for %.0f s",
            call.route.operation_id,
            pause,
        )
        if self._metrics:
            self._metrics.upstream_rate_limited.inc()
        raise ProblemError(
            ErrorCode.UPSTREAM_RATE_LIMITED, headers={"Retry-After": str(math.ceil(pause))}
        )


Admit = Callable[[UpstreamCall], Awaitable[bool]]
