"""Running the service under uvicorn, with a shutdown that load balancers can follow.

On SIGTERM (or SIGINT) the replica first reports not ready on ``/readyz`` while it keeps serving
for ``BFF_SHUTDOWN_DRAIN_SECONDS``, so the load balancer stops sending new requests; then uvicorn
stops accepting, lets in-flight requests finish within ``BFF_SHUTDOWN_GRACE_SECONDS`` and exits.
A second signal skips the drain.
"""

from __future__ import annotations

import logging
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI

from app.config import Settings
from app.http_edge import EdgeLimits, protocol_class
from app.ops.health import Readiness

logger = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, readiness: Readiness, drain_seconds: float) -> None:
        super().__init__(config)
        self.readiness = readiness
        self.drain_seconds = drain_seconds
        self._drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_until is not None or self.drain_seconds <= 0:
            super().handle_exit(sig, frame)
            return
        self.readiness.shutting_down = True
        self._drain_until = time.monotonic() + self.drain_seconds
        logger.info("shutdown requested: not ready, draining for %.1f s", self.drain_seconds)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and time.monotonic() >= self._drain_until:
            self.should_exit = True
        return await super().on_tick(counter)


def edge_limits(settings: Settings) -> EdgeLimits:
    return EdgeLimits(
        max_header_bytes=settings.max_header_bytes,
        max_header_count=settings.max_header_count,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_connections=settings.max_connections,
    )


def build_server(app: FastAPI, settings: Settings, host: str, port: int) -> DrainingServer:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # The standard library's loop, not uvloop: under a flood of kept-alive requests uvloop
        # (libuv) accepts one new connection per loop iteration, so new clients waited seconds in
        # the kernel's accept queue while the old ones were answered (bench/RESULTS.md, the soak).
        # asyncio accepts up to the backlog at each wake-up, and was as fast here otherwise.
        loop="asyncio",
        # httptools (uvicorn[standard]) with the edge's limits: header size and count, header and
        # body read deadlines, a connection cap (app/http_edge.py, docs/design.md).
        http=protocol_class(edge_limits(settings)),
        proxy_headers=True,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        access_log=False,  # the service logs each request itself, as JSON
        server_header=False,
        log_config=None,
    )
    return DrainingServer(config, app.state.readiness, settings.shutdown_drain_seconds)
