"""Overload is a normal condition: a bound on work in progress, and no work for clients gone.

Two rules for every request except the operations endpoints (health, readiness, metrics):

- **A bound per worker.** At most ``BFF_MAX_IN_FLIGHT`` requests are in progress at once, and none
  is admitted while the event loop runs more than ``BFF_MAX_LOOP_LAG`` seconds late. Beyond either,
  a request is answered at once with 503 ``overloaded`` and ``Retry-After``, instead of waiting
  behind the others: under sustained overload a queue only turns every answer into a late one,
  and latency past the client's patience is work thrown away. The second bound is the one that
  matters when the worker is short of CPU: then the queue is not in the handlers (each is quick)
  but in front of them, in the event loop's backlog of parsed requests, which the in-flight count
  cannot see; the loop's own lateness, sampled every 50 ms, can.
- **A client that has gone costs nothing more.** While the request is handled, a watcher waits on
  ``receive()`` for ``http.disconnect``; when the client closes the connection before its answer
  was sent, the handler is cancelled, so its upstream call stops holding a pooled connection and
  a place in the bound. The access log and metrics record such a request with status 499 (nginx's
  "client closed request"); nothing is sent. The watcher starts only once a request has run for
  ``WATCH_AFTER_SECONDS``: most answers (a cached read) are sent sooner, and a task per request
  was a measurable part of their cost; the requests worth cancelling are the ones that wait.

A pure ASGI middleware (no ``BaseHTTPMiddleware``): a timer per request, a watcher task for the
slow ones, nothing buffered beyond the small request bodies this API takes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ErrorCode, problem_response
from app.ops.metrics import Metrics

RETRY_AFTER_SECONDS = 1
LAG_SAMPLE_SECONDS = 0.05
WATCH_AFTER_SECONDS = 0.01
CLIENT_CLOSED = 499
# A declared body larger than this is not read ahead by the watcher (the body check refuses it).
_WATCHED_BODY_BYTES = 64 * 1024


class OverloadMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        max_lag: float,
        exempt: Collection[str],
        metrics: Metrics,
    ) -> None:
        self.app = app
        self.limit = limit
        self.max_lag = max_lag
        self.lag = LoopLag()
        self.exempt = frozenset(exempt)
        self.in_flight = 0
        self._refused = Counter(
            "bff_overload_refused",
            "Requests refused at once because the worker had BFF_MAX_IN_FLIGHT in progress.",
            registry=metrics.registry,
        )
        self._abandoned = Counter(
            "bff_client_disconnects",
            "Requests cancelled because the client closed the connection before the answer.",
            registry=metrics.registry,
        )
        Gauge(
            "bff_in_flight_requests",
            "Requests in progress in this worker (operations endpoints not counted).",
            registry=metrics.registry,
        ).set_function(lambda: self.in_flight)
        Gauge(
            "bff_event_loop_lag_seconds",
            "The longest the worker's event loop ran late since the last scrape.",
            registry=metrics.registry,
        ).set_function(self.lag.take_peak)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        self.lag.ensure_running()
        if self.in_flight >= self.limit or self.lag.seconds > self.max_lag:
            self._refused.inc()
            refusal = problem_response(
                ErrorCode.OVERLOADED, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            )
            await refusal(scope, receive, send)
            return
        # A request counts once its body has arrived: a client trickling a body (or never sending
        # its last byte) holds a connection until the edge's body timeout, but no place in the
        # bound, so slow clients cannot make the worker refuse everyone else (issue 9).
        counted = False

        def count() -> None:
            nonlocal counted
            if not counted:
                counted = True
                self.in_flight += 1

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                count()
            return message

        if not _has_body(scope):
            count()
        try:
            if _watchable(scope):
                await self._until_disconnect(scope, counting_receive, send)
            else:
                await self.app(scope, counting_receive, send)
        finally:
            if counted:
                self.in_flight -= 1

    async def _until_disconnect(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; cancel it if the client disconnects before the answer is complete."""
        handler = asyncio.current_task()
        if handler is None:  # pragma: no cover - ASGI servers always run requests in tasks
            await self.app(scope, receive, send)
            return
        watch = _DisconnectWatch(receive, handler)

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                watch.answered = True
            await send(message)

        try:
            await self.app(scope, watch.receive, tracked_send)
        except asyncio.CancelledError:
            if not watch.gone:
                raise
            # Our own cancellation: the client left. Undo it, so that an enclosing timeout or
            # task group does not mistake it for theirs, and let the outer layers log a 499.
            handler.uncancel()
            self._abandoned.inc()
            await send({"type": "http.response.start", "status": CLIENT_CLOSED, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await watch.close()


class _DisconnectWatch:
    """One request's watch for ``http.disconnect``: it starts after ``WATCH_AFTER_SECONDS``.

    Until then the app reads ``receive()`` itself; once the watcher runs, it is the only reader
    and passes every message on to the app through a queue.
    """

    def __init__(self, receive: Receive, handler: asyncio.Task[object]) -> None:
        self._receive = receive
        self._handler = handler
        self._loop = asyncio.get_running_loop()
        self._inbox: asyncio.Queue[Message] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._reading = 0  # the app's own receive() calls in progress, before the watcher runs
        self.answered = False
        self.gone = False
        self._timer = self._loop.call_later(WATCH_AFTER_SECONDS, self._start)

    def _start(self) -> None:
        if self.answered:
            return
        if self._reading:  # two readers of one receive() would race: look again a little later
            self._timer = self._loop.call_later(WATCH_AFTER_SECONDS, self._start)
            return
        self._inbox = asyncio.Queue()
        self._watcher = self._loop.create_task(self._watch(self._inbox))

    async def _watch(self, inbox: asyncio.Queue[Message]) -> None:
        while True:
            message = await self._receive()
            await inbox.put(message)
            if message["type"] == "http.disconnect":
                if not self.answered:
                    self.gone = True
                    self._handler.cancel()
                return

    async def receive(self) -> Message:
        if self._inbox is not None:
            return await self._inbox.get()
        self._reading += 1
        try:
            return await self._receive()
        finally:
            self._reading -= 1

    async def close(self) -> None:
        self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher


class LoopLag:
    """How late the event loop runs: a timer every 50 ms notes by how much it fired late.

    A chain of ``call_later`` callbacks rather than a task: nothing to cancel at shutdown, and a
    loop that closes simply drops it. It restarts on whatever loop serves the next request.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._peak = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def take_peak(self) -> float:
        """The largest lag seen since the last call."""
        peak, self._peak = self._peak, self.seconds
        return peak

    def ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self.seconds = 0.0
            loop.call_later(LAG_SAMPLE_SECONDS, self._tick, loop, loop.time() + LAG_SAMPLE_SECONDS)

    def _tick(self, loop: asyncio.AbstractEventLoop, expected: float) -> None:
        if loop is not self._loop:
            return  # a newer loop took over
        now = loop.time()
        self.seconds = max(0.0, now - expected)
        self._peak = max(self._peak, self.seconds)
        loop.call_later(LAG_SAMPLE_SECONDS, self._tick, loop, now + LAG_SAMPLE_SECONDS)


def _watchable(scope: Scope) -> bool:
    """Whether the watcher may read the request's body ahead of the app: small or none."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.isdigit() and int(value) <= _WATCHED_BODY_BYTES
        if name == b"transfer-encoding":
            return False
    return True


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False
