"""The one HTTP client per process that talks to meetergo.

The code speaks httpx (``httpx.AsyncClient``, its exceptions, its ``MockTransport`` in tests); under
it runs an aiohttp connection pool (:func:`aiohttp_transport`). Measured in ``bench/transports``
(results in bench/RESULTS.md): httpx's own transport (httpcore) costs about twice the CPU per
request, and the service is CPU-bound on its upstream calls. httpx-aiohttp (by an httpx maintainer)
does the adaptation; this module pins what the service relies on: no cookie jar, aiohttp's errors
translated to the httpx exceptions :mod:`app.upstream.sender` retries on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from app import __version__
from app.config import Settings

USER_AGENT = f"meetergo-calendar-bff/{__version__}"
KEEPALIVE_EXPIRY_SECONDS = 4.0


class UpstreamClient(httpx.AsyncClient):
    """httpx's client, which builds the requests, and the transport the sender sends them on.

    The sender hands each request to :attr:`transport` itself instead of ``AsyncClient.send``:
    the client's send adds what this service never uses (an auth flow, a redirect loop, a cookie
    jar that parses every ``Set-Cookie`` only for its policy to drop it, event hooks), about a
    quarter of an upstream call's time when the process is not already busy (bench/RESULTS.md).
    What the service relies on stays: httpx's requests (base URL, default headers, the timeouts
    in each request's extensions), responses and exceptions, and any transport tests inject.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **options: Any) -> None:
        super().__init__(transport=transport, **options)
        self.transport = transport


def build_upstream_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> UpstreamClient:
    """A pooled client for meetergo with explicit timeouts and limits.

    ``transport`` is injectable so tests can put a controlled edge under the real code; by default
    it is :func:`aiohttp_transport`. The API key is not set here but per request, so it cannot leak
    to another host through a redirect; redirects are never followed. Cookies are neither kept nor
    sent.
    """
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=settings.upstream_read_timeout,
        write=settings.upstream_write_timeout,
        pool=settings.upstream_pool_timeout,
    )
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_keepalive,
        # meetergo runs on Node.js, whose servers close idle connections after 5 s. Dropping
        # ours sooner avoids sending a write on a connection the server is closing (a write
        # is never retried).
        keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
    )
    # One client serves every user: a cookie meetergo (or a balancer before it) set would be sent
    # back on the next user's calls. The jar's policy allows no domain, so it never keeps one.
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return UpstreamClient(
        base_url=settings.meetergo_base_url,
        cookies=no_cookies,
        timeout=timeout,
        limits=limits,
        transport=transport if transport is not None else aiohttp_transport(limits),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
    )


class UpstreamTransport(AiohttpTransport):
    """httpx-aiohttp's transport with the pool and the error mapping the sender needs.

    - **A fair pool.** aiohttp's connector wakes a waiter when a connection is released, but the
      task that released it may take it again first: under contention a request can wait out the
      pool timeout while others keep going (seen in ``bench.transports --concurrency 32``). The
      pool's size is enforced here with a first-come, first-served semaphore, so aiohttp never has
      to make anyone wait; a request that gets no slot within the pool timeout fails with httpx's
      ``PoolTimeout``, as on httpx's own transport. A slot is held until the answer is read.
    - **Errors by what they mean for a retry.** httpx-aiohttp maps any dropped connection to
      ``ConnectTimeout``, which the sender retries even for writes (a connect timeout means nothing
      was sent). A connection that dropped after the request went out must not look like that.
    """

    def __init__(self, *, limits: httpx.Limits, client: Callable[[], aiohttp.ClientSession]):
        super().__init__(limits=limits, trust_env=False, client=client)
        size = limits.max_connections
        self._slots = asyncio.Semaphore(size) if size else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        slots = self._slots
        if slots is None:
            return await self._send(request)
        try:
            async with asyncio.timeout(request.extensions.get("timeout", {}).get("pool")):
                await slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection to meetergo", request=request) from None
        try:
            response = await self._send(request)
        except BaseException:
            slots.release()
            raise
        response.stream = _SlotReleasingStream(response.stream, slots.release)
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.TransportError as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientError):
                raise _translate(cause, request) from cause
            raise

    @property
    def pool(self) -> aiohttp.BaseConnector | None:
        """aiohttp's connection pool, once the first request has created it."""
        session = self.client
        return session.connector if isinstance(session, aiohttp.ClientSession) else None


class _SlotReleasingStream(httpx.AsyncByteStream):
    """An answer's body that gives its pool slot back when closed (once)."""

    def __init__(
        self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, release: Callable[[], None]
    ):
        assert isinstance(stream, httpx.AsyncByteStream)  # noqa: S101 - aiohttp streams are async
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def _translate(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    message = f"{type(exc).__name__}: {exc}"
    mapped: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        # Connecting, or waiting for a free connection of the pool: nothing was sent.
        mapped = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError):
        mapped = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        mapped = httpx.ConnectError  # refused, unreachable, DNS: nothing was sent
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        mapped = httpx.RemoteProtocolError  # closed before or inside an answer, or not HTTP
    else:
        mapped = httpx.ReadError  # reset, broken pipe, truncated body
    return mapped(message, request=request)


def aiohttp_transport(limits: httpx.Limits) -> UpstreamTransport:
    """An httpx transport over one aiohttp session: ``limits`` applied, no cookies, no proxies."""

    def session() -> aiohttp.ClientSession:
        # Created on the first request, inside the running event loop, as aiohttp requires.
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            limit_per_host=0,
            keepalive_timeout=limits.keepalive_expiry or 0,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # neither keeps nor sends a cookie
            trust_env=False,
            auto_decompress=False,  # httpx decodes, as with its own transport
            raise_for_status=False,
        )
        # aiohttp resends an "idempotent" request (DELETE and PUT included) once when a kept-alive
        # connection drops. meetergo might have applied a DELETE: the sender alone decides retries
        # (tests/proxy/test_faults.py guards this). No public switch exists for it.
        session._retry_connection = False
        return session

    return UpstreamTransport(limits=limits, client=session)
