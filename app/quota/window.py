"""The budget's ledger: the upstream calls of the last 60 seconds, shared by every replica.

A *sliding window log*: every granted call is one entry stamped with the time it was granted, and
a call is granted only while fewer than ``threshold`` entries are younger than the window. That is
the guarantee meetergo's limit needs, stated exactly: **never more than N calls in any 60 s
window**, whatever the timing, with no burst on top of N. A token bucket or GCRA would add its
burst to the rate in some window, and the answer to "how long until a call of this class may go"
would be an estimate; here it is the moment a given entry leaves the window.

Classes share one log and differ only in their threshold: writes may fill the window to the
budget, reads stop ``write_reserve`` earlier, refreshes earlier still, by a reserve that follows
demand: a second log counts the first reads asked for in the window, and refreshes leave at most
that many calls (up to the configured reserve) to them. A reserve kept for first reads that
nobody makes would only turn refreshes into stale answers. A per-user log in front caps what one
app user can spend. The upstream's own 429 sets a pause that every replica honours.

Two backends pass the same tests: :class:`MemoryWindow` (one process) and :class:`RedisWindow`
(one Lua script, one round trip, timed by the Redis server's clock so replicas' clocks never
disagree about the window).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from redis.asyncio import Redis

from app.state.redis import FAILURES, translated

logger = logging.getLogger(__name__)

# meetergo counts a minute; the window is a second longer, because a call reaches meetergo a little
# after it was granted: calls granted 60.5 s apart could otherwise arrive under a minute apart.
WINDOW_SECONDS = 61.0
Scope = Literal["ok", "user", "global", "pause"]


@dataclass(frozen=True)
class Decision:
    """A try at the window: granted, or refused with the wait until a try can succeed."""

    granted: bool
    wait: float = 0.0  # seconds until the refusing entry leaves the window (or the pause ends)
    scope: Scope = "ok"  # what refused: the user's share, the shared budget, or a 429 pause


GRANTED = Decision(granted=True)


class BudgetWindow(Protocol):
    seconds: float  # the window's length

    async def try_acquire(
        self,
        threshold: int,
        user: str | None,
        user_limit: int,
        *,
        reserve: int = 0,
        demand: bool = False,
    ) -> Decision:
        """Grant one call if the shared log holds fewer than ``threshold`` entries and ``user``'s
        log fewer than ``user_limit`` (0 or no user: no per-user check), atomically.

        ``demand`` records this call as a first read in the demand log, granted or not;
        ``reserve`` lowers the threshold by the demand log's size, at most by ``reserve``.
        """
        ...

    async def pause(self, seconds: float) -> None:
        """Refuse every call, on every replica, for ``seconds`` (never shortens a longer pause)."""
        ...

    async def used(self) -> int:
        """Entries in the shared log now (for metrics and tests)."""
        ...


class MemoryWindow:
    """The window for one process. Also the fallback while Redis cannot be reached."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        seconds: float = WINDOW_SECONDS,
        keep_stamps: bool = False,
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._keep_stamps = keep_stamps
        self._shared: deque[float] = deque()
        self._demand: deque[float] = deque()
        self._users: dict[str, deque[float]] = {}
        self._paused_until = 0.0
        self.granted_at: deque[float] = deque()  # wall-clock stamps, for handing over to Redis

    def _trim(self, log: deque[float], now: float) -> None:
        while log and log[0] <= now - self.seconds:
            log.popleft()

    async def try_acquire(
        self,
        threshold: int,
        user: str | None,
        user_limit: int,
        *,
        reserve: int = 0,
        demand: bool = False,
    ) -> Decision:
        now = self._clock()
        if demand:
            self._demand.append(now)
        if reserve > 0:
            self._trim(self._demand, now)
            threshold -= min(reserve, len(self._demand))
        if now < self._paused_until:
            return Decision(False, self._paused_until - now, "pause")
        self._trim(self._shared, now)
        user_log = None
        if user is not None and user_limit > 0:
            user_log = self._users.setdefault(user, deque())
            self._trim(user_log, now)
            if len(user_log) >= user_limit:
                oldest = user_log[len(user_log) - user_limit]
                return Decision(False, self._wait(oldest, now), "user")
        if len(self._shared) >= threshold:
            oldest = self._shared[len(self._shared) - threshold]
            return Decision(False, self._wait(oldest, now), "global")
        self._shared.append(now)
        if self._keep_stamps:
            wall = time.time()
            self.granted_at.append(wall)
            while self.granted_at and self.granted_at[0] <= wall - self.seconds:
                self.granted_at.popleft()
        if user_log is not None:
            user_log.append(now)
        if len(self._users) > 4096:  # forget users whose logs have emptied
            self._users = {key: log for key, log in self._users.items() if log}
        return GRANTED

    def _wait(self, stamp: float, now: float) -> float:
        return max(stamp + self.seconds - now, 0.001)

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def used(self) -> int:
        self._trim(self._shared, self._clock())
        return len(self._shared)


# KEYS: shared log, user log, pause, demand log. ARGV: window ms, threshold, user limit, member,
# probe, reserve, demand ('1': record this call as a first read asked for). Returns {granted
# (0/1), wait in ms, scope, lost (1 when the probe, a member this replica was granted recently,
# is missing from the log)}.
# TIME is the server's clock: one clock for all replicas. Since Redis 5 scripts replicate their
# effects, so TIME before a write is allowed.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local lost = 0
if ARGV[5] ~= '' and not redis.call('ZSCORE', KEYS[1], ARGV[5]) then
  return {0, 1, 'global', 1}  -- decide nothing on a log that lost entries: write back first
end
if ARGV[7] == '1' then
  redis.call('ZADD', KEYS[4], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[4], window)
end
local threshold = tonumber(ARGV[2])
local reserve = tonumber(ARGV[6])
if reserve > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - window)
  threshold = threshold - math.min(reserve, redis.call('ZCARD', KEYS[4]))
end
local pause = redis.call('PTTL', KEYS[3])
if pause > 0 then return {0, pause, 'pause', lost} end
local user_limit = tonumber(ARGV[3])
if user_limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local used = redis.call('ZCARD', KEYS[2])
  if used >= user_limit then
    local e = redis.call('ZRANGE', KEYS[2], used - user_limit, used - user_limit, 'WITHSCORES')
    return {0, tonumber(e[2]) + window - now, 'user', lost}
  end
end
if count >= threshold then
  local e = redis.call('ZRANGE', KEYS[1], count - threshold, count - threshold, 'WITHSCORES')
  return {0, tonumber(e[2]) + window - now, 'global', lost}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
if user_limit > 0 then
  redis.call('ZADD', KEYS[2], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[2], window)
end
return {1, 0, 'ok', lost}
"""

# KEYS: pause. ARGV: ms. A longer pause already set is kept.
_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""

# KEYS: shared log. ARGV: window ms, then pairs of (wall-clock ms, member). Calls the log lost
# (Redis restarted empty, failed over, evicted the key) or never saw (granted by the fallback
# while Redis was away) are written back, so the window still counts them. Members are unique
# per call: writing one back twice counts it once.
_WRITE_BACK = """
local window = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[i]), ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""


class RedisWindow:
    """The window in Redis, for every replica that uses one API key.

    Each replica also remembers the calls it was granted in the last window. When the newest of
    them is missing from the shared log, Redis has lost the log (restarted empty, failed over to a
    replica that had not caught up, evicted it): every replica writes its own calls back before
    deciding, so a restart cannot hand out the window's budget twice.
    """

    def __init__(self, client: Redis, key_prefix: str, *, seconds: float = WINDOW_SECONDS) -> None:
        self.seconds = seconds
        self._window_ms = int(seconds * 1000)
        self._mine: deque[tuple[float, str]] = deque()  # (wall clock, member) of our grants
        self._failures_seen = FAILURES.count
        self._client = client
        self._shared = key_prefix + "log"
        self._pause_key = key_prefix + "pause"
        self._demand_key = key_prefix + "demand"
        self._user_prefix = key_prefix + "user:"
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)
        self._write_back_script = client.register_script(_WRITE_BACK)

    async def try_acquire(
        self,
        threshold: int,
        user: str | None,
        user_limit: int,
        *,
        reserve: int = 0,
        demand: bool = False,
    ) -> Decision:
        # Only a grant confirmed before this script ran must be in the log it sees.
        mine = self._recent_grants()
        if FAILURES.count != self._failures_seen:
            # Redis failed since our last look (a restart shows first as failed calls): write
            # our calls back before asking, in case it came back empty.
            failures = FAILURES.count
            await self._write_back(mine)
            self._failures_seen = failures
        probe = mine[-1][1] if mine else ""
        decision, lost = await self._run(threshold, user, user_limit, probe, reserve, demand)
        if lost:
            logger.error(
                "the budget's log in Redis lost this replica's %d calls of the last minute: "
                "writing them back",
                len(mine),
            )
            await self._write_back(mine)
            decision, _ = await self._run(threshold, user, user_limit, "", reserve, demand)
        return decision

    async def _run(  # noqa: PLR0917 - the script's arguments, one each
        self,
        threshold: int,
        user: str | None,
        user_limit: int,
        probe: str,
        reserve: int,
        demand: bool,
    ) -> tuple[Decision, bool]:
        user_key = self._user_prefix + (user or "-")
        limit = user_limit if user is not None else 0
        member = uuid.uuid4().hex
        stamp = time.time()
        with translated("budget script"):
            granted, wait_ms, scope, lost = await self._acquire(
                keys=[self._shared, user_key, self._pause_key, self._demand_key],
                args=[
                    self._window_ms,
                    threshold,
                    limit,
                    member,
                    probe,
                    reserve,
                    "1" if demand else "0",
                ],
            )
        if int(granted):
            self._mine.append((stamp, member))
            return GRANTED, bool(int(lost))
        scope_text = scope.decode() if isinstance(scope, bytes) else str(scope)
        return Decision(False, max(int(wait_ms), 1) / 1000, _scope(scope_text)), bool(int(lost))

    def _recent_grants(self) -> list[tuple[float, str]]:
        # A second short of the window: an entry about to leave Redis's log is not "lost".
        horizon = time.time() - self.seconds + 1.0
        while self._mine and self._mine[0][0] <= horizon:
            self._mine.popleft()
        return list(self._mine)

    async def pause(self, seconds: float) -> None:
        with translated("budget pause"):
            await self._pause(keys=[self._pause_key], args=[max(1, math.ceil(seconds * 1000))])

    async def used(self) -> int:
        with translated("budget count"):
            now_ms = int(time.time() * 1000)
            await self._client.zremrangebyscore(self._shared, "-inf", now_ms - self._window_ms)
            return int(await self._client.zcard(self._shared))

    async def import_granted(self, stamps: list[float]) -> None:
        """Write calls granted elsewhere (the fallback while Redis was away) into the log."""
        entries = [(stamp, uuid.uuid4().hex) for stamp in stamps]
        await self._write_back(entries)
        self._mine.extend(entries)

    async def _write_back(self, entries: list[tuple[float, str]]) -> None:
        if not entries:
            return
        args: list[str | int] = [self._window_ms]
        for stamp, member in entries:
            args += [int(stamp * 1000), member]
        with translated("budget write-back"):
            await self._write_back_script(keys=[self._shared], args=args)


def _scope(text: str) -> Scope:
    return text if text in ("user", "global", "pause") else "global"  # type: ignore[return-value]
