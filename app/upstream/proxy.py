"""The calendar proxy's pipeline, after the allowlist has validated a call.

Order (docs/architecture in the README): per-user rate limit → cache and coalescing (reads) →
global budget → upstream call → response mapping → cache invalidation (writes). The stages that
exist today are listed in :func:`build_proxy`; a new one is one entry there.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.upstream.call import Handler, Stage, UpstreamCall, UpstreamResult, compose


class CalendarProxy:
    """Runs each validated call through the stages, then sends it: see :func:`build_proxy`."""

    def __init__(self, send: Handler, stages: Sequence[Stage] = ()) -> None:
        self.stages = tuple(stages)
        self._handle = compose(self.stages, send)

    async def handle(self, call: UpstreamCall) -> UpstreamResult:
        return await self._handle(call)
