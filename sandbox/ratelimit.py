"""meetergo's rate limit: a token bucket per API key (100 a minute, bursts up to 200)."""

from __future__ import annotations

from sandbox.clock import Clock


class TokenBucket:
    """Holds up to ``capacity`` tokens, refilled continuously at ``refill_per_second``."""

    def __init__(self, capacity: float, refill_per_second: float, now: float) -> None:
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self.tokens = capacity
        self._updated = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        elapsed = max(0.0, now - self._updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        self._updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimiter:
    """One full bucket per key, made on the key's first request."""

    def __init__(self, *, per_minute: float, burst: int, clock: Clock) -> None:
        self._per_second = per_minute / 60
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, bucket_id: str) -> bool:
        now = self._clock()
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            bucket = self._buckets[bucket_id] = TokenBucket(self._burst, self._per_second, now)
        return bucket.take(now)

    def reset(self) -> None:
        self._buckets.clear()
