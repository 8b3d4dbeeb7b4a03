"""API traffic as meetergo's limiter sees it: when each call came, for which key, how it ended.

The request log keeps whole requests (headers, bodies) and so only the newest thousand or so. Load
tests need something else over minutes of thousands of calls: how many calls meetergo received in
any 60 s, and how many it refused. This keeps a few numbers per API call, on the sandbox's own
clock (injectable, so tests can place calls exactly), and answers ``GET /_sandbox/traffic``.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from sandbox.clock import Clock

API_PREFIX = "/v4/"


@dataclass(frozen=True)
class Call:
    time: float
    """When the call arrived, in the sandbox's clock seconds."""
    status: int | None
    """The answer's status; None when none was sent (a reset or a client that went away)."""
    rate_limited: bool
    key: str | None
    """The key's bucket id (``ak_live:<uuid>``, never its secret); None when unauthenticated."""


@dataclass
class Window:
    start: float
    calls: int = 0
    rate_limited: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "start": self.start,
            "calls": self.calls,
            "accepted": self.calls - self.rate_limited,
            "rateLimited": self.rate_limited,
        }


def _max_in_window(times: list[float], window: float) -> int:
    """The most of ``times`` (sorted) that fit in any half-open span ``[t, t + window)``."""
    best = 0
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class TrafficLog:
    def __init__(self, size: int, clock: Clock) -> None:
        self._calls: deque[Call] = deque(maxlen=size)
        self._clock = clock
        self._forgotten = 0

    def now(self) -> float:
        return self._clock()

    def add(self, call: Call) -> None:
        if len(self._calls) == self._calls.maxlen:
            self._forgotten += 1
        self._calls.append(call)

    def clear(self) -> None:
        self._calls.clear()
        self._forgotten = 0

    def report(self, window: float, key: str | None = None) -> dict[str, object]:
        """Totals, consecutive windows from the first call, and the busiest window anywhere."""
        calls = sorted(
            (c for c in self._calls if key is None or c.key == key), key=lambda c: c.time
        )
        statuses = Counter("none" if c.status is None else str(c.status) for c in calls)
        report: dict[str, object] = {
            "windowSeconds": window,
            "key": key,
            "calls": len(calls),
            "rateLimited": sum(c.rate_limited for c in calls),
            "statuses": dict(sorted(statuses.items())),
            "forgotten": self._forgotten,
            "firstCallAgoSeconds": None,
            "windows": [],
            "maxInAnyWindow": {"calls": 0, "accepted": 0, "rateLimited": 0},
        }
        if not calls:
            return report
        first = calls[0].time
        report["firstCallAgoSeconds"] = round(self._clock() - first, 3)
        windows: list[Window] = []
        for call in calls:
            index = int((call.time - first) // window)
            while len(windows) <= index:
                windows.append(Window(start=len(windows) * window))
            windows[index].calls += 1
            windows[index].rate_limited += call.rate_limited
        report["windows"] = [w.to_json() for w in windows]
        report["maxInAnyWindow"] = {
            "calls": _max_in_window([c.time for c in calls], window),
            "accepted": _max_in_window([c.time for c in calls if not c.rate_limited], window),
            "rateLimited": _max_in_window([c.time for c in calls if c.rate_limited], window),
        }
        return report
