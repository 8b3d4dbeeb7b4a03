"""meetergo's rate limit: a token bucket per API key (100 a minute, bursts up to 200).

Every key starts with a full bucket of ``burst`` tokens; each authenticated API request takes one;
tokens come back continuously at ``per_minute / 60`` a second, never beyond ``burst``. So in any
span of ``t`` seconds a key gets at most ``burst + per_minute * t / 60`` answers that are not 429.
"""

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
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def seconds_until_token(self, now: float) -> float:
        """How long until a whole token is back (0 when one is there now)."""
        self._refill(now)
        return max(0.0, (1 - self.tokens) / self.refill_per_second)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        self._updated = now


class RateLimiter:
    """One full bucket per key, made on the key's first request."""

    def __init__(self, *, per_minute: float, burst: int, clock: Clock) -> None:
        self._per_second = per_minute / 60
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, bucket_id: str) -> bool:
        return self._bucket(bucket_id).take(self._clock())

    def seconds_until_token(self, bucket_id: str) -> float:
        return self._bucket(bucket_id).seconds_until_token(self._clock())

    def _bucket(self, bucket_id: str) -> TokenBucket:
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            bucket = TokenBucket(self._burst, self._per_second, self._clock())
            self._buckets[bucket_id] = bucket
        return bucket

    def reset(self) -> None:
        self._buckets.clear()
