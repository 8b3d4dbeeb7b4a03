"""Prometheus metrics, one registry per application.

Each app owns its :class:`Metrics` (tests build many apps; a process-global registry would mix
them). Components that count something receive it; a new component adds its own metrics here, to
the same registry, and they appear on ``/metrics`` with no other change.

``/metrics`` is protected by its own bearer token (``BFF_METRICS_TOKEN``): Prometheus sends it with
``authorization: {credentials: ...}``. Without the token the endpoint answers 404.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.responses import Response

from app.errors import ErrorCode, ProblemError

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "bff_http_requests",
            "Requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "bff_http_request_duration_seconds",
            "Time to answer, by route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.problems = Counter(
            "bff_problems",
            "Error answers by stable code and status (429s included).",
            ["code", "status"],
            registry=r,
        )
        self.upstream_requests = Counter(
            "bff_upstream_requests",
            "Requests to meetergo by operation and outcome (HTTP status, or the transport error).",
            ["operation", "outcome"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "bff_upstream_request_duration_seconds",
            "Time meetergo took, per attempt.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_key_switches = Counter(
            "bff_upstream_key_switches",
            "Switches from BFF_MEETERGO_API_KEY to BFF_MEETERGO_API_KEY_NEXT after a 401.",
            registry=r,
        )
        self.upstream_key_in_use = Gauge(
            "bff_upstream_key_in_use",
            "1 for the configured meetergo key calls go out with (current or next).",
            ["key"],
            registry=r,
        )
        self.upstream_credential_refused = Gauge(
            "bff_upstream_credential_refused",
            "1 while meetergo refuses the last configured API key (401); alert on it.",
            registry=r,
        )
        self.sessions_started = Counter(
            "bff_sessions_started", "Sessions started from login tickets.", registry=r
        )
        self.sessions_revoked = Counter(
            "bff_sessions_revoked",
            "Revocations: one session (logout) or every session of a user (operator).",
            ["scope"],
            registry=r,
        )

        self.budget_calls = Counter(
            "bff_budget_calls",
            "Upstream calls asked of the shared budget, by priority and outcome.",
            ["priority", "outcome"],
            registry=r,
        )
        self.budget_wait_seconds = Histogram(
            "bff_budget_wait_seconds",
            "Time granted calls waited for budget.",
            buckets=(0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10),
            registry=r,
        )
        self.budget_degraded = Gauge(
            "bff_budget_degraded",
            "1 while Redis is unreachable and this replica spends its own share of the budget.",
            registry=r,
        )
        self.upstream_rate_limited = Counter(
            "bff_upstream_rate_limited",
            "meetergo's own 429 answers: incidents, since the budget should prevent every one.",
            registry=r,
        )
        self.cache_reads = Counter(
            "bff_cache_reads",
            "Cacheable reads by outcome: hit, miss, collapsed, stale, bypass.",
            ["outcome"],
            registry=r,
        )
        self.revocations_pending = Gauge(
            "bff_session_revocations_pending",
            "Logouts this replica could not record in the shared state yet (it retries).",
            registry=r,
        )
        self.revocation_cache_lookups = Counter(
            "bff_revocation_cache_lookups",
            "Session checks against this replica's revocation cache, by outcome: hit (no Redis "
            "round trip), miss, unconfirmed (the notices' subscription is not confirmed: Redis "
            "asked).",
            ["outcome"],
            registry=r,
        )
        self.revocation_notices_live = Gauge(
            "bff_revocation_notices_live",
            "1 while this replica's subscription to revocation notices is confirmed and its "
            "revocation cache in use.",
            registry=r,
        )
        self.revocation_notices = Counter(
            "bff_revocation_notices",
            "Revocation notices this replica received (its own included).",
            registry=r,
        )
        self.hijack_removals = Counter(
            "bff_hijack_removals",
            "The hijack defence, by outcome: removed (at once), deferred (queued after the "
            "immediate attempts failed), removed_later, retry_failed, gave_up, lost (could not "
            "even be queued), kept_preexisting and kept_owned (a callback named a connection the "
            "flow did not create), undecided (shared state unavailable: nothing removed).",
            ["outcome"],
            registry=r,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics_endpoint(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    token = request.app.state.settings.metrics_token
    if token is None:
        raise ProblemError(ErrorCode.NOT_FOUND)
    expected = f"Bearer {token.get_secret_value()}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise ProblemError(ErrorCode.UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
    metrics: Metrics = request.app.state.metrics
    return Response(
        metrics.exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
    )
