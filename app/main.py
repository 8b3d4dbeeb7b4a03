"""The application factory: builds every component once and wires the request path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app import __version__
from app.config import ConfigError, Settings, env_name, load_settings
from app.connect import routes as connect_routes
from app.connect.flows import FlowCodec
from app.errors import install_error_handlers
from app.ops import health, manage
from app.ops import metrics as metrics_routes
from app.ops.body import JsonBodyMiddleware
from app.ops.health import Readiness
from app.ops.metrics import Metrics
from app.ops.observe import ObserverMiddleware
from app.ops.overload import OverloadMiddleware
from app.ops.request_id import RequestIdMiddleware
from app.ops.set_cookie import SetCookieMiddleware
from app.session import routes as session_routes
from app.session.csrf import CsrfMiddleware
from app.session.mapping import build_user_mapping
from app.session.sessions import SessionManager
from app.session.tickets import TicketVerifier
from app.state.factory import open_shared_state
from app.state.store import SharedState
from app.static_files import DEMO_PATH, SDK_PATH, demo_files, sdk_files
from app.upstream.client import aiohttp_transport, build_upstream_client
from app.upstream.pool_health import UpstreamPoolHealth
from app.upstream.proxy import CalendarProxy
from app.upstream.router import build_calendar_router
from app.upstream.sender import UpstreamSender
from app.upstream.table import ROUTES_BY_ID

AUTH_PREFIX = "/auth"
# Never refused for overload: an orchestrator must see a busy replica as alive and ready.
OPERATIONS_PATHS = ("/healthz", "/readyz", "/metrics")


def create_app(
    settings: Settings | None = None,
    *,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    shared_state: SharedState | None = None,
) -> FastAPI:
    """Build the service. Without ``settings``, they are read from the environment.

    Everything that can be wrong with the configuration (keys, files) fails here, at start-up, not
    on the first request. ``upstream_transport`` and ``shared_state`` let tests put a controlled
    edge under the real code.
    """
    settings = settings or load_settings()
    unknown = sorted(set(settings.disabled_routes) - set(ROUTES_BY_ID))
    if unknown:
        raise ConfigError(
            [
                f"{env_name('disabled_routes')}: unknown operation ids {unknown}; "
                f"known: {sorted(ROUTES_BY_ID)}"
            ]
        )
    state = shared_state or open_shared_state(settings)
    # On aiohttp's pool too: httpcore's pool leaks slots when requests are cancelled (issue 11).
    mapping_client = httpx.AsyncClient(
        timeout=settings.user_mapping_timeout,
        trust_env=False,
        transport=aiohttp_transport(httpx.Limits(max_connections=20, keepalive_expiry=4.0)),
    )
    user_mapping = build_user_mapping(settings, mapping_client)
    metrics = Metrics()
    tickets = TicketVerifier(settings, state)
    sessions = SessionManager(settings, state, metrics=metrics)
    readiness = Readiness()
    if state.name != "memory":  # in-process state is always there; anything else may not be
        readiness.checks["shared_state"] = state.ping
    pool_health = UpstreamPoolHealth(settings.upstream_max_connections, metrics=metrics)
    readiness.checks["upstream_pool"] = pool_health.ready

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(state.aclose)
            stack.push_async_callback(mapping_client.aclose)
            upstream = await stack.enter_async_context(
                build_upstream_client(settings, upstream_transport)
            )
            app.state.upstream = upstream
            app.state.calendar_proxy = CalendarProxy(
                UpstreamSender(settings, upstream, metrics=metrics, pool_health=pool_health)
            )
            yield
            readiness.shutting_down = True

    app = FastAPI(
        title="meetergo-calendar-bff",
        version=__version__,
        summary="Calendar connections through meetergo, without the API key in the browser.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # No redirect from /x/ to /x: an allowlist matches exactly, and the redirect's Location
        # would be built from the client's Host header.
        redirect_slashes=False,
        # The service reports through Prometheus (/metrics) and JSON logs. FastAPI's native
        # OpenTelemetry layer would otherwise look up three global providers on every request
        # (about 5% of a proxied read in the profile, bench/RESULTS.md) to find them unconfigured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.upstream_pool_health = pool_health
    app.state.readiness = readiness
    app.state.shared_state = state
    app.state.user_mapping = user_mapping
    app.state.tickets = tickets
    app.state.sessions = sessions
    app.state.flows = FlowCodec(settings)

    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(session_routes.router)
    app.include_router(manage.router)
    app.include_router(metrics_routes.router)
    app.include_router(build_calendar_router(settings))
    app.include_router(connect_routes.router)
    app.include_router(connect_routes.build_status_router(settings))
    app.mount(SDK_PATH, sdk_files(), name="sdk")
    if settings.demo:
        from app import demo_routes  # noqa: PLC0415 - demo code is loaded only in demo mode

        # Routes before the mount: Starlette matches in order, and the mount takes all of /demo.
        app.include_router(demo_routes.router)
        app.include_router(demo_routes.root_router)
        app.mount(DEMO_PATH, demo_files(), name="demo")
    _install_middleware(app, settings, metrics)
    return app


def _install_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """The request path's outer steps. Starlette runs the last one added first."""
    guarded = (settings.api_prefix, AUTH_PREFIX)
    app.add_middleware(SetCookieMiddleware)
    app.add_middleware(JsonBodyMiddleware, prefixes=guarded)
    app.add_middleware(CsrfMiddleware, prefixes=guarded, origins=settings.allowed_origins)
    cross_origin = [origin for origin in settings.allowed_origins if origin != settings.public_url]
    if cross_origin:
        # Only for a SPA on another origin: exact origins, credentials, never "*".
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cross_origin,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["X-CSRF", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "X-Flow-ID"],
            max_age=600,
        )
    # Inside the observer, so that refusals and abandoned requests are logged and counted.
    app.add_middleware(
        OverloadMiddleware,
        limit=settings.max_in_flight,
        max_lag=settings.max_loop_lag,
        exempt=OPERATIONS_PATHS,
        metrics=metrics,
    )
    app.add_middleware(ObserverMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
