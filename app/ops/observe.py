"""Watching every request once: one measurement feeds both the access log and the metrics."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import CLIENT_CLOSED_REQUEST, last_problem_code, reset_problem_code
from app.ops.logs import ACCESS_LOGGER, route_template
from app.ops.metrics import Metrics


class ObserverMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.logger = logging.getLogger(ACCESS_LOGGER)

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
            route, method = route_template(scope), scope["method"]
            code = last_problem_code(token)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.request_seconds.labels(method, route).observe(elapsed)
            if code is not None:
                self.metrics.problems.labels(code, str(status)).inc()
            self.logger.info(
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "latencyMs": round(elapsed * 1000, 1),
                    "user": scope.get("state", {}).get("user_hash"),
                    "code": code,
                },
            )
