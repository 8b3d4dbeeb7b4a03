"""What one proxied call is, before and after it meets meetergo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.quota.budget import Priority
from app.upstream.table import UpstreamRoute


@dataclass(frozen=True)
class UpstreamCall:
    """A validated call: every value in it has passed the allowlist's checks."""

    route: UpstreamRoute
    meetergo_user_id: str
    app_user_hash: str  # for logs and per-user keys; never the raw app user id
    path_params: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    json_body: dict[str, Any] | None = None
    request_id: str | None = None
    # How the budget treats it: set by the cache stage for reads, the route's default otherwise.
    priority: Priority | None = None
    fresh: bool = False  # must see meetergo's current answer: no cache, no stale copy
    allow_stale: bool = True  # False: a fresh cached answer will do, a stale one will not
    system: bool = False  # made by the service itself (flow checks): not charged to a user's share

    @property
    def upstream_path(self) -> str:
        return self.route.upstream_path(self.path_params)


@dataclass(frozen=True)
class UpstreamResult:
    """meetergo's answer, reduced to what may reach the browser or a cache."""

    status: int
    body: bytes
    retry_after: str | None = None
    attempts: int = 1
    cache_status: str | None = None  # the Cache-Status parameters (RFC 9211), when cached
    age: int | None = None  # seconds since meetergo produced a cached body
    json_checked: bool = False  # the body is known to be a JSON document (the cache checked it)


Handler = Callable[[UpstreamCall], Awaitable[UpstreamResult]]
Stage = Callable[[UpstreamCall, Handler], Awaitable[UpstreamResult]]


def compose(stages: Sequence[Stage], send: Handler) -> Handler:
    """One handler that runs ``stages`` in order around ``send``.

    A stage receives the call and the rest of the pipeline; it may answer by itself (a cache hit,
    a spent budget) or pass the call on and look at the result (invalidation after writes).
    """
    handler = send
    for stage in reversed(stages):
        handler = _bind(stage, handler)
    return handler


def _bind(stage: Stage, following: Handler) -> Handler:
    async def run(call: UpstreamCall) -> UpstreamResult:
        return await stage(call, following)

    return run
