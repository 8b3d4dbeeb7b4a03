"""The last step of the pipeline: the HTTP request to meetergo, with deadline and retries.

Only here are the API key and the user header attached. Reads are retried, with exponential
backoff and full jitter, on connection errors and on 502/503/504; writes are never retried,
because meetergo might have applied them. Every attempt fits inside one overall deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

import httpx

from app.config import Settings
from app.errors import ErrorCode, ProblemError
from app.ops.metrics import Metrics
from app.upstream.call import UpstreamCall, UpstreamResult
from app.upstream.pool_health import UpstreamPoolHealth

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})
# Failures before meetergo could have acted on the request, or on an idempotent read.
RETRY_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)
BACKOFF_BASE = 0.1
BACKOFF_CAP = 2.0
API_USER_HEADER = "x-meetergo-api-user-id"


class UpstreamSender:
    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: Metrics | None = None,
        pool_health: UpstreamPoolHealth | None = None,
    ) -> None:
        self._metrics = metrics
        self._pool_health = pool_health
        self._client = client
        self._authorization = f"Bearer {settings.meetergo_api_key.get_secret_value()}"
        self._deadline = settings.upstream_deadline
        self._retries = settings.upstream_retries
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._sleep = sleep

    def _request(self, call: UpstreamCall) -> httpx.Request:
        headers = {"Authorization": self._authorization, API_USER_HEADER: call.meetergo_user_id}
        if call.request_id:
            headers["X-Request-ID"] = call.request_id
        return self._client.build_request(
            call.route.method,
            call.upstream_path,
            params=call.query or None,
            json=call.json_body,
            headers=headers,
        )

    async def __call__(self, call: UpstreamCall) -> UpstreamResult:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._deadline):
                return await self._attempts(call, started)
        except TimeoutError:
            logger.warning(
                "meetergo %s timed out after %.1f s", call.route.operation_id, self._deadline
            )
            raise ProblemError(ErrorCode.UPSTREAM_TIMEOUT) from None

    async def _attempts(self, call: UpstreamCall, started: float) -> UpstreamResult:
        attempts = 1 + (self._retries if call.route.is_read else 0)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = await self._send(call)
            except httpx.TimeoutException as exc:
                if isinstance(exc, httpx.ConnectTimeout) and not last:
                    await self._backoff(attempt)
                    continue
                logger.warning("meetergo %s: %s", call.route.operation_id, type(exc).__name__)
                raise ProblemError(ErrorCode.UPSTREAM_TIMEOUT) from None
            except RETRY_ERRORS as exc:
                if call.route.is_read and not last:
                    await self._backoff(attempt)
                    continue
                logger.warning("meetergo %s: %s", call.route.operation_id, type(exc).__name__)
                raise ProblemError(ErrorCode.UPSTREAM_UNAVAILABLE) from None
            except httpx.HTTPError as exc:
                logger.error("meetergo %s: %s", call.route.operation_id, type(exc).__name__)
                raise ProblemError(ErrorCode.UPSTREAM_UNAVAILABLE) from None
            if response.status_code in RETRY_STATUSES and call.route.is_read and not last:
                await response.aclose()
                await self._backoff(attempt)
                continue
            return UpstreamResult(
                status=response.status_code,
                body=response.content,
                retry_after=response.headers.get("retry-after"),
                attempts=attempt,
            )
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    async def _send(self, call: UpstreamCall) -> httpx.Response:
        """One attempt, measured."""
        operation = call.route.operation_id
        started = time.monotonic()
        outcome = "cancelled"  # the deadline, or the client's disconnect, cut the attempt short
        health = self._pool_health
        if health:
            health.started()
        try:
            response = await self._client.send(self._request(call))
            outcome = str(response.status_code)
            return response
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if health:
                health.finished(answered=outcome.isdigit(), pool_timeout=outcome == "PoolTimeout")
            if self._metrics:
                self._metrics.upstream_requests.labels(operation, outcome).inc()
                self._metrics.upstream_seconds.labels(operation).observe(time.monotonic() - started)

    async def _backoff(self, attempt: int) -> None:
        # Full jitter (AWS architecture blog): spreads the retries of many replicas apart.
        await self._sleep(self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
