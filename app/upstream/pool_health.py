"""Whether the upstream connection pool still produces answers: a readiness check and metrics.

The wedge of issue 11: after sustained overload, every proxied read waited out the pool timeout
while no connection to meetergo was open. Cancelled requests had leaked the pool's slots
(httpcore#1093); the service answered 504 to everything and stayed "ready".

The sender reports each attempt here. The signature of a leak is a **pool timeout while fewer
attempts are in flight than the pool has connections**: the slots are held by nobody. From the
first such timeout until an attempt gets an answer from meetergo again, the pool counts as stuck:
``/readyz`` fails (``upstream_pool``) and ``bff_upstream_pool_stuck`` is 1. A slow or unreachable
meetergo does not count (its attempts hold their slots, or fail to connect): taking every replica
out of the load balancer would not help with that.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge

from app.ops.metrics import Metrics


class UpstreamPoolHealth:
    def __init__(
        self,
        max_connections: int,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.in_flight = 0
        self.stuck_since: float | None = None
        self._clock = clock
        self._leaks: Counter | None = None
        if metrics is not None:
            registry = metrics.registry
            self._leaks = Counter(
                "bff_upstream_pool_starved",
                "Pool timeouts while fewer attempts were in flight than the pool's connections "
                "(leaked slots).",
                registry=registry,
            )
            Gauge(
                "bff_upstream_pool_stuck",
                "1 while the upstream pool times out with free capacity and has not answered since"
                " (a leak).",
                registry=registry,
            ).set_function(lambda: 1 if self.stuck else 0)
            Gauge(
                "bff_upstream_in_flight",
                "Attempts to meetergo in progress in this worker.",
                registry=registry,
            ).set_function(lambda: self.in_flight)

    @property
    def stuck(self) -> bool:
        return self.stuck_since is not None

    def started(self) -> None:
        self.in_flight += 1

    def finished(self, *, answered: bool, pool_timeout: bool) -> None:
        """One attempt ended: with an answer from meetergo, a pool timeout, or anything else."""
        self.in_flight -= 1
        if answered:
            self.stuck_since = None
        elif pool_timeout and self.in_flight < self.max_connections:
            if self._leaks is not None:
                self._leaks.inc()
            if self.stuck_since is None:
                self.stuck_since = self._clock()

    async def ready(self) -> bool:
        """The readiness check: ``False`` while the pool is stuck."""
        return not self.stuck
