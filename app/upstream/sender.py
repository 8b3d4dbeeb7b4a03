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
from app.upstream.client import UpstreamClient
from app.upstream.credentials import MeetergoCredentials
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
# The most of one answer the service reads (decoded): a calendar list is kilobytes. A larger answer
# is a fault (or an attack on memory), and becomes upstream_bad_response.
MAX_UPSTREAM_BODY_BYTES = 1024 * 1024
# An error answer quoting any run this long of the API key (a gateway echoing the request) is
# dropped whole: its text would hand the browser or the logs a piece of the key.
_KEY_FRAGMENT = 12
_REDACTED = b"[redacted]"


class UpstreamBodyTooLarge(Exception):
    """meetergo's answer is larger than MAX_UPSTREAM_BODY_BYTES."""


class UpstreamSender:
    def __init__(
        self,
        settings: Settings,
        client: UpstreamClient,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: Metrics | None = None,
        credentials: MeetergoCredentials | None = None,
        pool_health: UpstreamPoolHealth | None = None,
    ) -> None:
        self._metrics = metrics
        self._pool_health = pool_health
        self._client = client
        self._credentials = credentials or MeetergoCredentials.from_settings(settings, metrics)
        self._secrets = [s.encode() for s in settings.secret_values() if len(s) >= 8]
        keys = [settings.meetergo_api_key] + (
            [settings.meetergo_api_key_next] if settings.meetergo_api_key_next else []
        )
        self._key_fragments = [
            key[i : i + _KEY_FRAGMENT].encode()
            for key in (k.get_secret_value() for k in keys)
            for i in range(max(1, len(key) - _KEY_FRAGMENT + 1))
        ]
        self._deadline = settings.upstream_deadline
        self._retries = settings.upstream_retries
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._sleep = sleep
        # Asked before each retry; False ends the retries (the budget has no call to spare).
        self.admit_retry: Callable[[UpstreamCall], Awaitable[bool]] | None = None

    def _request(self, call: UpstreamCall, authorization: str) -> httpx.Request:
        headers = {"Authorization": authorization, API_USER_HEADER: call.meetergo_user_id}
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
                response, body = await self._send_with_key(call)
            except UpstreamBodyTooLarge:
                logger.error(
                    "meetergo %s answered more than %d bytes",
                    call.route.operation_id,
                    MAX_UPSTREAM_BODY_BYTES,
                )
                raise ProblemError(ErrorCode.UPSTREAM_BAD_RESPONSE) from None
            except httpx.TimeoutException as exc:
                if (
                    isinstance(exc, httpx.ConnectTimeout)
                    and not last
                    and await self._may_retry(call)
                ):
                    await self._backoff(attempt)
                    continue
                logger.warning("meetergo %s: %s", call.route.operation_id, type(exc).__name__)
                raise ProblemError(ErrorCode.UPSTREAM_TIMEOUT) from None
            except RETRY_ERRORS as exc:
                if call.route.is_read and not last and await self._may_retry(call):
                    await self._backoff(attempt)
                    continue
                logger.warning("meetergo %s: %s", call.route.operation_id, type(exc).__name__)
                raise ProblemError(ErrorCode.UPSTREAM_UNAVAILABLE) from None
            except httpx.HTTPError as exc:
                logger.error("meetergo %s: %s", call.route.operation_id, type(exc).__name__)
                raise ProblemError(ErrorCode.UPSTREAM_UNAVAILABLE) from None
            if (
                response.status_code in RETRY_STATUSES
                and call.route.is_read
                and not last
                and await self._may_retry(call)
            ):
                await self._backoff(attempt)
                continue
            return UpstreamResult(
                status=response.status_code,
                body=self._scrubbed(call, response.status_code, body),
                retry_after=response.headers.get("retry-after"),
                attempts=attempt,
            )
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    async def _may_retry(self, call: UpstreamCall) -> bool:
        return self.admit_retry is None or await self.admit_retry(call)

    async def _send_with_key(self, call: UpstreamCall) -> tuple[httpx.Response, bytes]:
        """One attempt; resent once with the next API key when meetergo refuses the current one.

        The resend is one more call to meetergo: it asks the budget like a retry (a 401 means
        meetergo did nothing, so resending even a write is safe).
        """
        authorization = self._credentials.authorization()
        response, body = await self._send(call, authorization)
        if response.status_code == 401:
            replacement = self._credentials.refused(authorization)
            if replacement is None or not await self._may_retry(call):
                return response, body
            response, body = await self._send(call, replacement)
            authorization = replacement
            if response.status_code == 401:
                self._credentials.refused(authorization)
                return response, body
        self._credentials.accepted(authorization)
        return response, body

    async def _send(self, call: UpstreamCall, authorization: str) -> tuple[httpx.Response, bytes]:
        """One request to meetergo, measured: the response and its body, read up to the limit."""
        operation = call.route.operation_id
        started = time.monotonic()
        outcome = "cancelled"  # the deadline, or the client's disconnect, cut the attempt short
        health = self._pool_health
        if health:
            health.started()
        try:
            # The transport itself, not AsyncClient.send: see UpstreamClient. No redirect is
            # followed and no cookie kept, as before, now by construction.
            response = await self._client.transport.handle_async_request(
                self._request(call, authorization)
            )
            try:
                body = await _read_capped(response)
            finally:
                await response.aclose()
            outcome = str(response.status_code)
            return response, body
        except UpstreamBodyTooLarge:
            outcome = "too_large"
            raise
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if health:
                health.finished(answered=outcome.isdigit(), pool_timeout=outcome == "PoolTimeout")
            if self._metrics:
                self._metrics.upstream_requests.labels(operation, outcome).inc()
                self._metrics.upstream_seconds.labels(operation).observe(time.monotonic() - started)

    def _scrubbed(self, call: UpstreamCall, status: int, body: bytes) -> bytes:
        """``body`` without any configured secret; an error answer quoting the key, dropped."""
        if status >= 400 and any(fragment in body for fragment in self._key_fragments):
            logger.error(
                "meetergo %s answered %s quoting the API key; its text is withheld",
                call.route.operation_id,
                status,
            )
            return b""
        for secret in self._secrets:
            if secret in body:
                body = body.replace(secret, _REDACTED)
        return body

    async def _backoff(self, attempt: int) -> None:
        # Full jitter (AWS architecture blog): spreads the retries of many replicas apart.
        await self._sleep(self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))


async def _read_capped(response: httpx.Response) -> bytes:
    """The decoded body, or UpstreamBodyTooLarge as soon as it passes the limit."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPSTREAM_BODY_BYTES:
        raise UpstreamBodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_UPSTREAM_BODY_BYTES:
            raise UpstreamBodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
