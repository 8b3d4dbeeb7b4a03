"""The upstream budget: who may call meetergo now, who waits, and who is refused honestly.

Every upstream call asks :meth:`UpstreamBudget.acquire` first, with its priority:

1. **writes** (PATCH, DELETE, set-primary), connects, the callback's confirmation read and the
   clean-up of a hijacked flow may fill the window to ``budget_per_minute``;
2. **first reads** (nothing cached to fall back on) stop ``budget_write_reserve`` earlier;
3. **refreshes** (a stale copy exists) leave first reads as many calls as first reads were asked
   for in the window, at most ``budget_refresh_reserve``; they wait at most
   ``budget_refresh_wait``, behind everyone else, then their caller serves the stale copy.

A call never overtakes a waiting call of its own class or a better one: while any such call
waits, a newcomer queues behind it rather than taking the slot it waits for.

A per-user share (``budget_per_user_per_minute``) in front keeps one user, or one script with a
stolen cookie, from draining the company's budget. A call that will get budget within
``budget_max_wait`` seconds waits in a fair queue (priority first, then round robin over users,
then arrival) instead of failing; one that will not is refused at once with the real wait as
``Retry-After``.

Without Redis the window lives in the process. When Redis is configured but cannot be reached,
each replica falls back to ``1/budget_replicas`` of the budget in its own memory, and writes the
calls it granted back into Redis once it answers again, so the window keeps counting them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum

from app.config import Settings
from app.ops.metrics import Metrics
from app.quota.window import BudgetWindow, Decision, MemoryWindow, RedisWindow
from app.state.store import SharedStateUnavailable

logger = logging.getLogger(__name__)


class Priority(IntEnum):
    WRITE = 0
    FIRST_READ = 1
    REFRESH = 2


class BudgetRefused(Exception):
    """No budget for this call within its wait; ``retry_after`` is when one of its class frees."""

    def __init__(self, retry_after: float, scope: str) -> None:
        super().__init__(f"budget refused ({scope}), retry after {retry_after:.1f} s")
        self.retry_after = retry_after
        self.scope = scope

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


@dataclass(order=True)
class _Waiter:
    priority: int
    rank: int  # calls of the same user already waiting when this one arrived
    seq: int
    user: str | None = field(compare=False)
    turn: asyncio.Event = field(compare=False, default_factory=asyncio.Event)


class UpstreamBudget:
    def __init__(
        self,
        settings: Settings,
        window: BudgetWindow,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._window = window
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        limit = settings.budget_per_minute
        self._thresholds = {
            Priority.WRITE: limit,
            Priority.FIRST_READ: limit - settings.budget_write_reserve,
            # Lowered further by the window, by the first reads asked for (see the module).
            Priority.REFRESH: limit - settings.budget_write_reserve,
        }
        self._refresh_reserve = settings.budget_refresh_reserve
        self._user_limit = settings.budget_per_user_per_minute
        self._max_waiters = settings.budget_max_waiters
        self._replicas = settings.budget_replicas
        self._fallback = (
            MemoryWindow(clock, seconds=window.seconds, keep_stamps=True)
            if isinstance(window, RedisWindow)
            else None
        )
        self._degraded = False
        self._queue: list[_Waiter] = []
        self._seq = 0
        self._last_global_wait = (0.0, 0.0)  # (wait, when it was learnt)
        self.pause_seconds = settings.upstream_rate_limit_pause

    # -- the public surface ----------------------------------------------------------------------
    async def acquire(self, priority: Priority, user: str | None, max_wait: float) -> None:
        """Return once this call may go to meetergo; raise :class:`BudgetRefused` otherwise."""
        started = self._clock()
        give_up = started + max_wait
        if self._queued_ahead(priority):
            wait, learnt = self._last_global_wait
            decision = Decision(False, max(wait - (started - learnt), 0.0), "global")
            counted = False
        else:
            decision = await self._try(priority, user)
            counted = True
        if not decision.granted:
            decision = await self._wait_in_queue(priority, user, decision, give_up, counted=counted)
        if self._metrics:
            self._metrics.budget_calls.labels(priority.name.lower(), "granted").inc()
            self._metrics.budget_wait_seconds.observe(self._clock() - started)

    async def pause(self, seconds: float) -> None:
        """meetergo answered 429: every replica stops calling it for ``seconds``."""
        with contextlib.suppress(SharedStateUnavailable):  # the local pause below still holds
            await self._window.pause(seconds)
        if self._fallback is not None:
            await self._fallback.pause(seconds)

    async def used(self) -> int:
        return await self._window.used()

    # -- internals -------------------------------------------------------------------------------
    def _queued_ahead(self, priority: Priority) -> bool:
        return any(waiter.priority <= priority for waiter in self._queue)

    async def _wait_in_queue(
        self,
        priority: Priority,
        user: str | None,
        decision: Decision,
        give_up: float,
        *,
        counted: bool,
    ) -> Decision:
        if decision.scope == "user":
            decision = await self._wait_alone(priority, user, decision, give_up)
            if decision.granted:
                return decision
        if len(self._queue) >= self._max_waiters or self._clock() + decision.wait > give_up:
            self._refuse(priority, decision.wait, decision.scope)
        self._seq += 1
        rank = sum(1 for waiter in self._queue if waiter.user == user and user is not None)
        waiter = _Waiter(int(priority), rank, self._seq, user)
        # Refused now, not after waiting in vain: the calls ahead of it need a slot each first.
        estimate = self._estimate(waiter)
        if self._clock() + estimate > give_up:
            self._refuse(priority, estimate, "global")
        heapq.heappush(self._queue, waiter)
        if self._queue[0] is waiter:
            waiter.turn.set()
        try:
            while True:
                if self._queue[0] is not waiter:
                    await self._await_turn(waiter, priority, give_up)
                    continue
                decision = await self._try(priority, user, retry=counted)
                counted = True
                if decision.granted:
                    return decision
                if decision.scope == "user" or self._clock() + decision.wait > give_up:
                    self._refuse(priority, decision.wait, decision.scope)
                await self._sleep(decision.wait)
        finally:
            self._queue.remove(waiter)
            heapq.heapify(self._queue)
            if self._queue:
                self._queue[0].turn.set()

    async def _await_turn(self, waiter: _Waiter, priority: Priority, give_up: float) -> None:
        remaining = give_up - self._clock()
        if remaining > 0:
            try:
                async with asyncio.timeout(remaining):
                    await waiter.turn.wait()
                waiter.turn.clear()
                return
            except TimeoutError:
                pass
        self._refuse(priority, self._estimate(waiter), "global")

    async def _wait_alone(
        self, priority: Priority, user: str | None, decision: Decision, give_up: float
    ) -> Decision:
        """The user's own share is spent: wait for it outside the queue, holding nobody up."""
        while decision.scope == "user":
            if self._clock() + decision.wait > give_up:
                self._refuse(priority, decision.wait, "user")
            await self._sleep(decision.wait)
            decision = await self._try(priority, user, retry=True)
        return decision

    def _estimate(self, waiter: _Waiter) -> float:
        """Seconds until this queued call could go: the head's wait plus one slot per call ahead."""
        wait, learnt = self._last_global_wait
        ahead = sum(1 for other in self._queue if other < waiter)
        return max(wait - (self._clock() - learnt), 0) + ahead * self._window.seconds / max(
            self._thresholds[Priority.WRITE], 1
        )

    def _refuse(self, priority: Priority, wait: float, scope: str) -> None:
        if self._metrics:
            self._metrics.budget_calls.labels(priority.name.lower(), f"refused_{scope}").inc()
        raise BudgetRefused(wait, scope)

    async def _try(self, priority: Priority, user: str | None, *, retry: bool = False) -> Decision:
        threshold = self._thresholds[priority]
        reserve = self._refresh_reserve if priority is Priority.REFRESH else 0
        # A first read is demand once: when it asks, not again each time it retries from the queue.
        demand = priority is Priority.FIRST_READ and not retry
        try:
            decision = await self._window.try_acquire(
                threshold, user, self._user_limit, reserve=reserve, demand=demand
            )
        except SharedStateUnavailable:
            return await self._try_fallback(threshold, user, reserve, demand)
        if self._degraded:
            await self._recover()
        if not decision.granted and decision.scope != "user":
            self._last_global_wait = (decision.wait, self._clock())
        return decision

    async def _try_fallback(
        self, threshold: int, user: str | None, reserve: int, demand: bool
    ) -> Decision:
        assert self._fallback is not None  # noqa: S101 - only a Redis window can be unavailable
        if not self._degraded:
            self._degraded = True
            logger.error(
                "Redis unreachable: this replica now spends at most 1/%d of meetergo's budget "
                "on its own",
                self._replicas,
            )
            if self._metrics:
                self._metrics.budget_degraded.set(1)
        share = max(1, threshold // self._replicas)
        user_share = max(1, math.ceil(self._user_limit / self._replicas)) if self._user_limit else 0
        return await self._fallback.try_acquire(
            share, user, user_share, reserve=reserve // self._replicas, demand=demand
        )

    async def _recover(self) -> None:
        assert self._fallback is not None  # noqa: S101 - degraded implies a fallback
        recent = [s for s in self._fallback.granted_at if s > time.time() - self._window.seconds]
        assert isinstance(self._window, RedisWindow)  # noqa: S101 - the one window that degrades
        try:
            await self._window.import_granted(recent)
        except SharedStateUnavailable:
            return
        self._fallback.granted_at.clear()
        self._degraded = False
        logger.warning("Redis answers again: the budget is shared by all replicas again")
        if self._metrics:
            self._metrics.budget_degraded.set(0)
