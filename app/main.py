"""The application factory: builds every component once and wires the request path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app import __version__
from app.config import Settings, load_settings
from app.connect import routes as connect_routes
from app.connect.flows import FlowCodec
from app.connect.store import FlowStore
from app.connect.undo import HijackUndo
from app.contract import ProblemRule, install_document
from app.errors import ErrorCode, install_error_handlers
from app.ops import health, manage
from app.ops import metrics as metrics_routes
from app.ops.body import JsonBodyMiddleware
from app.ops.health import Readiness
from app.ops.metrics import Metrics
from app.ops.observe import ObserverMiddleware
from app.ops.overload import OverloadMiddleware
from app.ops.paths import RawPathMiddleware
from app.ops.request_id import RequestIdMiddleware
from app.ops.set_cookie import SetCookieMiddleware
from app.preflight import check_startup
from app.quota.factory import build_quota
from app.session import routes as session_routes
from app.session.csrf import CsrfMiddleware
from app.session.mapping import build_user_mapping
from app.session.revocation_cache import RevocationCache
from app.session.sessions import SessionManager
from app.session.tickets import TicketVerifier
from app.state.factory import open_shared_state
from app.state.notices import RedisNotices, notices_for
from app.state.store import SharedState, SharedStateUnavailable
from app.static_files import DEMO_PATH, SDK_PATH, demo_files, sdk_files
from app.upstream.client import aiohttp_transport, build_upstream_client
from app.upstream.credentials import MeetergoCredentials
from app.upstream.pool_health import UpstreamPoolHealth
from app.upstream.proxy import CalendarProxy
from app.upstream.router import build_calendar_router
from app.upstream.sender import UpstreamSender

AUTH_PREFIX = "/auth"
logger = logging.getLogger(__name__)
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
    check_startup(settings)
    # Not `or`: an empty MemoryState is falsy (it has __len__), and would be silently replaced.
    state = shared_state if shared_state is not None else open_shared_state(settings)
    # On aiohttp's pool too: httpcore's pool leaks slots when requests are cancelled (issue 11).
    mapping_client = httpx.AsyncClient(
        timeout=settings.user_mapping_timeout,
        trust_env=False,
        transport=aiohttp_transport(httpx.Limits(max_connections=20, keepalive_expiry=4.0)),
    )
    user_mapping = build_user_mapping(settings, mapping_client)
    metrics = Metrics()
    tickets = TicketVerifier(settings, state)
    readiness = Readiness()
    sessions = _build_sessions(settings, state, metrics, readiness)
    quota = build_quota(settings, state, metrics)
    credentials = MeetergoCredentials.from_settings(settings, metrics)
    readiness.advisories["upstream_credential"] = credentials.status
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
            sender = UpstreamSender(
                settings,
                upstream,
                metrics=metrics,
                credentials=credentials,
                pool_health=pool_health,
            )
            sender.admit_retry = quota.budget_stage.admit_retry
            app.state.calendar_proxy = proxy = CalendarProxy(
                sender, stages=(quota.cache_stage, quota.budget_stage)
            )
            stack.callback(_start_hijack_undo(app, proxy, state, metrics).cancel)
            stack.callback((await _start_pending_logouts(app)).cancel)
            _start_revocation_notices(app, stack)
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
    # The components every request may ask for (app/deps.py: from_app_state).
    components = {
        "settings": settings,
        "metrics": metrics,
        "upstream_pool_health": pool_health,
        "readiness": readiness,
        "credentials": credentials,
        "shared_state": state,
        "user_mapping": user_mapping,
        "tickets": tickets,
        "sessions": sessions,
        "flows": FlowCodec(settings),
        "quota": quota,
        "flow_store": FlowStore(state),
    }
    for name, component in components.items():
        setattr(app.state, name, component)

    install_error_handlers(app)
    app.include_router(health.router)
    # Starlette tries routes in order, a regular expression each: the calendar routes, which
    # carry most of the traffic, come right after the probes (no path of theirs overlaps another
    # router's, so the order changes nothing but the cost; bench/RESULTS.md, the cached read).
    app.include_router(build_calendar_router(settings))
    app.include_router(session_routes.router)
    app.include_router(manage.router)
    app.include_router(metrics_routes.router)
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
    install_document(app, _problem_rules(settings))
    return app


async def _start_pending_logouts(app: FastAPI) -> asyncio.Task[None]:
    """Make the state epoch now (before the first ticket arrives, if the state answers), and
    start the task that records logouts the shared state missed."""
    sessions: SessionManager = app.state.sessions  # read now: tests may swap it before start
    try:
        await sessions.epoch.current()
    except SharedStateUnavailable:
        logger.warning("shared state unavailable at start-up; the epoch is checked on first use")
    return asyncio.create_task(sessions.run_pending(), name="pending-logouts")


def _build_sessions(
    settings: Settings, state: SharedState, metrics: Metrics, readiness: Readiness
) -> SessionManager:
    """Sessions, with a revocation cache when the state is Redis: the in-process state's
    lookups cost no round trip to save."""
    notices = notices_for(state, answer_within=settings.redis_timeout)
    cache = None
    if isinstance(notices, RedisNotices) and settings.revocation_cache_seconds > 0:
        cache = RevocationCache(notices, settings.revocation_cache_seconds, metrics=metrics)
        # Advisory: without notices every session check asks Redis, slower but as safe.
        readiness.advisories["revocation_notices"] = cache.status
    return SessionManager(settings, state, metrics=metrics, notices=notices, cache=cache)


def _start_revocation_notices(app: FastAPI, stack: AsyncExitStack) -> None:
    """The subscription that tells the revocation cache what other replicas revoked (none
    without the cache: the session checks then ask Redis every time)."""
    sessions: SessionManager = app.state.sessions  # read now: tests may swap it before start
    if sessions.cache is None:
        return
    task = asyncio.create_task(sessions.cache.run(), name="revocation-notices")

    async def stop() -> None:
        # Awaited, not only cancelled: the subscription's connection goes back to the pool
        # before the pool closes.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)


def _start_hijack_undo(
    app: FastAPI, proxy: CalendarProxy, state: SharedState, metrics: Metrics
) -> asyncio.Task[None]:
    """The hijack defence, and its worker that retries queued removals until the app stops."""
    app.state.hijack_undo = undo = HijackUndo(proxy, state, metrics)
    return asyncio.create_task(undo.run(), name="hijack-undo")


def _problem_rules(settings: Settings) -> list[ProblemRule]:
    """What the middleware below answers before routing, for the OpenAPI document."""
    guarded = (settings.api_prefix, AUTH_PREFIX)
    unsafe = frozenset({"POST", "PUT", "PATCH", "DELETE"})
    return [
        ProblemRule(CsrfMiddleware.PROBLEMS, guarded),
        ProblemRule(CsrfMiddleware.UNSAFE_PROBLEMS, guarded, unsafe),
        ProblemRule(JsonBodyMiddleware.PROBLEMS, (*guarded, manage.PREFIX), unsafe),
        ProblemRule((ErrorCode.INVALID_PATH,)),  # app/ops/paths.py, before routing
        ProblemRule((ErrorCode.OVERLOADED,)),  # app/ops/overload.py
        ProblemRule((ErrorCode.INTERNAL_ERROR,)),  # the last resort of app/errors.py
    ]


def _install_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """The request path's outer steps. Starlette runs the last one added first."""
    guarded = (settings.api_prefix, AUTH_PREFIX)
    app.add_middleware(SetCookieMiddleware)
    app.add_middleware(JsonBodyMiddleware, prefixes=(*guarded, manage.PREFIX))
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
    # Before anything reads the path: an encoded separator is refused, not routed.
    app.add_middleware(RawPathMiddleware)
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
