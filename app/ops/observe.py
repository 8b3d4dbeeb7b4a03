"""Watching every request once: one measurement feeds both the access log and the metrics.

This runs for every request, so it is kept cheap: the metric children for a (method, route,
status) are looked up once and kept, and the access line is encoded by
:func:`app.ops.logs.access_line` without a redaction pass (its fields are safe by construction).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import CLIENT_CLOSED_REQUEST, last_problem_code, reset_problem_code
from app.ops.logs import ACCESS_LOGGER, access_line, route_template
from app.ops.metrics import Metrics

_MAX_CHILDREN = 4096  # (method, route, status) triples: bounded by the route table anyway


class ObserverMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        token = reset_problem_code()

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        except asyncio.CancelledError:
            # The server cancelled the request (its client went away, or shutdown ran out of
            # grace): nobody gets an answer, and it is no 500 of ours.
            if status == 500:
                status = CLIENT_CLOSED_REQUEST
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._record(scope, status, elapsed, last_problem_code(token))

    def _record(self, scope: Scope, status: int, elapsed: float, code: str | None) -> None:
        route, method = route_template(scope), scope["method"]
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(method, route, str(status)),
                self.metrics.request_seconds.labels(method, route),
            )
            if len(self._children) < _MAX_CHILDREN:
                self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)
        if code is not None:
            self.metrics.problems.labels(code, str(status)).inc()
        if self.logger.isEnabledFor(logging.INFO):
            state = scope.get("state", {})
            line = access_line(
                method=method,
                route=route,
                status=status,
                latency_ms=round(elapsed * 1000, 1),
                user=state.get("user_hash"),
                code=code,
                request_id=state.get("request_id"),
            )
            self.logger.info("request", extra={"access": line})
