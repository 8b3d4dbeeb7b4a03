"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from app import __version__
from app.config import Settings, load_settings
from app.errors import install_error_handlers
from app.ops import health
from app.ops.health import Readiness
from app.ops.request_id import RequestIdMiddleware
from app.upstream.client import build_upstream_client


def create_app(
    settings: Settings | None = None,
    *,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the service. Without ``settings``, they are read from the environment."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_upstream_client(settings, upstream_transport) as client:
            app.state.upstream = client
            yield
            app.state.readiness.shutting_down = True

    app = FastAPI(
        title="meetergo-calendar-bff",
        version=__version__,
        summary="Calendar connections through meetergo, without the API key in the browser.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.readiness = Readiness()
    install_error_handlers(app)
    app.include_router(health.router)
    app.add_middleware(RequestIdMiddleware)
    return app
