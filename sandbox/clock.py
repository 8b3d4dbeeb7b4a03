"""Time, injected: a monotonic clock for buckets and expiries, and the wall clock for timestamps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Monotonic seconds: ``time.monotonic`` in production, a :class:`ManualClock` in tests."""


class ManualClock:
    """A clock that moves only when told to, so tests of refills and expiries are exact."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso8601(moment: datetime) -> str:
    """``2025-01-31T09:30:00.123Z``: UTC with milliseconds, as JavaScript's ``toISOString``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
