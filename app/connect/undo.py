"""Removing the connection a hijacked flow created, until it is gone.

A DELETE is safe to repeat, and meetergo's 404 means the connection is gone already: success. So
the removal is tried a few times at once (:data:`IMMEDIATE_ATTEMPTS`, short pauses, each attempt
bounded by the upstream deadline). If it still fails, it is recorded in a durable queue in shared
state and retried by :meth:`HijackUndo.run` (a background task of every replica) with exponential
backoff, up to :data:`MAX_LATER_ATTEMPTS` times. Every failure is logged at error with the flow
id and counted in ``bff_hijack_removals_total``; giving up, or being unable even to queue the
removal, is an alert (see docs/operations.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import anyio

from app.errors import ErrorCode, ProblemError
from app.ops.metrics import Metrics
from app.state.store import SharedState, SharedStateUnavailable
from app.upstream.call import UpstreamCall
from app.upstream.proxy import CalendarProxy
from app.upstream.responses import to_response
from app.upstream.table import ROUTES_BY_ID

logger = logging.getLogger(__name__)

QUEUE = "hijack-undo"
IMMEDIATE_ATTEMPTS = 3
IMMEDIATE_PAUSES = (0.2, 0.8)  # between the immediate attempts
MAX_LATER_ATTEMPTS = 10
FIRST_LATER_DELAY = 15.0  # seconds; doubles each time, capped at MAX_LATER_DELAY
MAX_LATER_DELAY = 1800.0
LEASE = 120.0  # a worker's hold on a queued removal while it tries it
QUEUE_TTL = 7 * 86400.0  # the queue outlives the whole backoff schedule
WORKER_INTERVAL = 5.0
# Answers after which the connection is certainly not attached to the flow's user any more.
_GONE = frozenset({ErrorCode.NOT_FOUND, ErrorCode.USER_NOT_FOUND})


def later_delay(attempt: int) -> float:
    """Seconds before queued attempt number ``attempt`` (0-based)."""
    return float(min(FIRST_LATER_DELAY * 2**attempt, MAX_LATER_DELAY))


class HijackUndo:
    def __init__(
        self,
        proxy: CalendarProxy,
        state: SharedState,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        pauses: tuple[float, ...] = IMMEDIATE_PAUSES,
    ) -> None:
        self._proxy = proxy
        self._state = state
        self._metrics = metrics
        self._clock = clock
        self._pauses = pauses

    async def remove(
        self, flow_id: str, meetergo_user_id: str, connection_id: str, request_id: str | None
    ) -> None:
        """Remove the connection now, or queue its removal; never raises."""
        for attempt in range(IMMEDIATE_ATTEMPTS):
            if attempt:
                await anyio.sleep(self._pauses[min(attempt - 1, len(self._pauses) - 1)])
            if await self._delete(meetergo_user_id, connection_id, request_id):
                self._count("removed")
                logger.warning("removed the connection created by hijacked flow %s", flow_id)
                return
        member = _member(flow_id, meetergo_user_id, connection_id, 0)
        try:
            await self._state.schedule(QUEUE, member, self._clock() + later_delay(0), QUEUE_TTL)
        except SharedStateUnavailable:
            self._count("lost")
            logger.error(
                "could not remove the connection created by hijacked flow %s, nor queue its "
                "removal: shared state unavailable; remove it by hand",
                flow_id,
            )
            return
        self._count("deferred")
        logger.error(
            "could not remove the connection created by hijacked flow %s after %d attempts; "
            "queued for later",
            flow_id,
            IMMEDIATE_ATTEMPTS,
        )

    async def run_due(self) -> int:
        """Try every queued removal that is due now; how many were tried."""
        tried = 0
        while True:
            member = await self._state.take_due(QUEUE, self._clock(), LEASE)
            if member is None:
                return tried
            tried += 1
            await self._retry(member)

    async def run(self, interval: float | None = None) -> None:
        """The background worker: forever, every ``interval`` seconds, :meth:`run_due`."""
        interval = WORKER_INTERVAL if interval is None else interval
        while True:
            try:
                await self.run_due()
            except SharedStateUnavailable:
                logger.warning("queued connection removals wait: shared state unavailable")
            except Exception:
                logger.exception("queued connection removals failed")
            await anyio.sleep(interval)

    async def _retry(self, member: str) -> None:
        try:
            entry = json.loads(member)
            flow_id, mid, cid, attempt = entry["f"], entry["m"], entry["c"], int(entry["n"])
        except (ValueError, KeyError, TypeError):
            await self._state.unschedule(QUEUE, member)
            return
        if await self._delete(mid, cid, None):
            await self._state.unschedule(QUEUE, member)
            self._count("removed_later")
            logger.warning("removed the connection created by hijacked flow %s at last", flow_id)
            return
        attempt += 1
        if attempt >= MAX_LATER_ATTEMPTS:
            await self._state.unschedule(QUEUE, member)
            self._count("gave_up")
            logger.error(
                "gave up removing the connection created by hijacked flow %s after %d queued "
                "attempts; remove it by hand",
                flow_id,
                attempt,
            )
            return
        # Queue the next attempt before dropping this one: a crash in between repeats a DELETE,
        # which is harmless, instead of forgetting it.
        again = _member(flow_id, mid, cid, attempt)
        await self._state.schedule(QUEUE, again, self._clock() + later_delay(attempt), QUEUE_TTL)
        await self._state.unschedule(QUEUE, member)
        self._count("retry_failed")
        logger.error(
            "could not remove the connection created by hijacked flow %s (queued attempt %d)",
            flow_id,
            attempt,
        )

    async def _delete(
        self, meetergo_user_id: str, connection_id: str, request_id: str | None
    ) -> bool:
        call = UpstreamCall(
            route=ROUTES_BY_ID["deleteConnection"],
            meetergo_user_id=meetergo_user_id,
            app_user_hash="flow-owner",
            path_params={"connectionId": connection_id},
            request_id=request_id,
            system=True,  # the service's own clean-up: not charged to anyone's share
        )
        try:
            to_response(call, await self._proxy.handle(call))
        except ProblemError as exc:
            return exc.code in _GONE
        return True

    def _count(self, outcome: str) -> None:
        self._metrics.hijack_removals.labels(outcome).inc()


def _member(flow_id: str, meetergo_user_id: str, connection_id: str, attempt: int) -> str:
    return json.dumps({"f": flow_id, "m": meetergo_user_id, "c": connection_id, "n": attempt})
