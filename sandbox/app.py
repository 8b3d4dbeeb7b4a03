"""The sandbox application factory."""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from sandbox import admin, api
from sandbox.clock import Clock
from sandbox.config import SandboxSettings
from sandbox.consent import routes as consent
from sandbox.errors import install_error_handlers
from sandbox.fault_middleware import FaultInjector
from sandbox.recorder import RequestRecorder
from sandbox.runtime import SandboxRuntime, runtime_of
from sandbox.tcp_reset import TRANSPORT_SCOPE_KEY, transport_of


class SandboxApp(FastAPI):
    """FastAPI, plus a note in each request's scope of the server transport (for the reset fault).

    It has to be taken here, before Starlette's middleware wraps ``send`` in closures.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[TRANSPORT_SCOPE_KEY] = transport_of(send)
        await super().__call__(scope, receive, send)


def create_sandbox_app(
    settings: SandboxSettings | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """A sandbox with fresh state; ``clock`` (monotonic seconds) drives rate limits and expiry."""
    settings = settings or SandboxSettings()
    runtime = SandboxRuntime.start(settings, clock or time.monotonic)
    app = SandboxApp(
        title="meetergo sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.state.sandbox = runtime
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(consent.router)
    app.include_router(admin.router)
    # Added last runs first: the recorder sees every request, even one a fault cuts short.
    app.add_middleware(FaultInjector, faults=runtime.faults)
    app.add_middleware(RequestRecorder, log=runtime.log, traffic=runtime.traffic)
    return app


def set_public_url(app: FastAPI, public_url: str) -> None:
    """Point a running sandbox's authUrls at ``public_url`` (for servers on ephemeral ports)."""
    runtime = runtime_of(app)
    runtime.settings = SandboxSettings.model_validate(
        {**runtime.settings.model_dump(), "public_url": public_url}
    )
