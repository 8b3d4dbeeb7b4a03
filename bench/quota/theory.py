"""The most useful answers any scheduler could give within meetergo's limit: an upper bound.

A *useful* answer is a read answered fresh (data fetched from meetergo at most ``ttl`` seconds
earlier, and not since made out of date by a write of that user), or a write that meetergo applied.

A perfect scheduler knows every request in advance. It pays one upstream call per write, and one
per **fetch** of a read: a fetch of what a user reads (the list of connections, or one
connection's calendars) at time ``f`` answers every read of the same thing in ``[f, f + ttl]``,
unless a write of that user in between changed it (a PATCH changes the list and that connection's
calendars; set-primary, disconnect and connect change the list). Fetching at the first read not yet
covered covers the most reads (the classic greedy cover of points by intervals), so the reads cost
at least as many calls as that greedy makes; concurrent identical reads share one fetch.

Each call is a unit of demand worth the answers it serves (a fetch: its reads; a write: 1). The
limit allows at most ``burst + rate * span`` calls over the run (a token bucket that starts full).
If every unit fits, the maximum is every request. Otherwise no scheduler can do better than the
units worth the most, as many as the limit allows: that sum is the bound reported. It ignores when
the tokens arrive, so it can only overstate what is achievable, never understate it; a service's
share of it is therefore a conservative figure.

That bound is **clairvoyant**: it spends its calls first on the fetches that will serve two reads
(a page reopened within the cache's lifetime), which no scheduler can tell apart when the first
read arrives. :func:`first_come_maximum` is the reference without foresight: a perfect cache,
perfect coalescing and a perfect budget serving requests in arrival order, with no reserve and no
cost beyond one call per write and per fetch. It is not an upper bound for every online policy
(one that refused the right requests by luck could do better), but it is what the service's
policy, executed without loss, would give; the service's share of it measures the execution.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from bench.quota.workload import IdealRequest


@dataclass(frozen=True)
class Bound:
    requests: int
    reads: int
    writes: int
    demand_calls: int
    """Upstream calls a perfect cache needs to answer every request usefully."""
    budget_calls: int
    """Calls the limit allows over the span: burst + rate * span."""
    max_useful: int
    ttl: float
    rate_per_minute: float
    burst: int
    span: float

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def fetch_groups(requests: list[IdealRequest], ttl: float) -> list[int]:
    """The reads each fetch of the greedy cover answers, one entry per fetch."""
    reads: dict[tuple[str, str], list[float]] = defaultdict(list)
    changes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for request in requests:
        if request.write:
            for key in request.invalidates:
                changes[(request.meetergo_user, key)].append(request.time)
        else:
            reads[(request.meetergo_user, request.key)].append(request.time)
    groups: list[int] = []
    for what, times in reads.items():
        times.sort()
        changed = sorted(changes.get(what, []))
        fetched_at: float | None = None
        for moment in times:
            if fetched_at is not None and _fresh(fetched_at, moment, ttl, changed):
                groups[-1] += 1
                continue
            fetched_at = moment
            groups.append(1)
    return groups


def _fresh(fetched_at: float, moment: float, ttl: float, changed: list[float]) -> bool:
    if moment - fetched_at > ttl:
        return False
    # A write at the same moment as the fetch came before it (the SPA refreshes after a write).
    return not any(fetched_at < change <= moment for change in changed)


def theoretical_maximum(
    requests: list[IdealRequest], *, ttl: float, rate_per_minute: float, burst: int, span: float
) -> Bound:
    writes = sum(request.write for request in requests)
    units = [*fetch_groups(requests, ttl), *([1] * writes)]
    budget = int(burst + rate_per_minute * span / 60)
    units.sort(reverse=True)
    max_useful = sum(units[:budget])
    return Bound(
        requests=len(requests),
        reads=len(requests) - writes,
        writes=writes,
        demand_calls=len(units),
        budget_calls=budget,
        max_useful=max_useful,
        ttl=ttl,
        rate_per_minute=rate_per_minute,
        burst=burst,
        span=span,
    )


def first_come_maximum(
    requests: list[IdealRequest], *, ttl: float, per_window: int, window: float = 60.0
) -> int:
    """Useful answers of an ideal first-come, first-served scheduler (see the module)."""
    fetched: dict[tuple[str, str], float] = {}
    calls: deque[float] = deque()
    useful = 0
    # Same moment: the write before the SPA's refresh that follows it (ideal_requests' order).
    for request in sorted(requests, key=lambda r: r.time):
        while calls and calls[0] <= request.time - window:
            calls.popleft()
        if not request.write:
            at = fetched.get((request.meetergo_user, request.key))
            if at is not None and request.time - at <= ttl:
                useful += 1
                continue
        if len(calls) >= per_window:
            continue
        calls.append(request.time)
        useful += 1
        if request.write:
            for key in request.invalidates:
                fetched.pop((request.meetergo_user, key), None)
        else:
            fetched[(request.meetergo_user, request.key)] = request.time
    return useful
