"""A replica's memory of sessions it found not revoked, so that most checks skip Redis.

Every session check reads the session's revocation, its user's revocation and the state epoch in
one ``MGET`` (:meth:`SessionManager._is_revoked`). With Redis, a session found clean is
remembered here for ``BFF_REVOCATION_CACHE_SECONDS`` (at most :data:`MAX_ENTRIES` sessions, the
oldest dropped first), and the checks of that session meanwhile make no round trip. What makes
that safe is the notice every revocation publishes in the same transaction as its write
(:mod:`app.state.notices`): one per logout (``sid:<id>``), per operator revocation
(``user:<hash>``), and per new state epoch (``epoch``). Each replica follows them with one
subscription and drops what they name: a session, a user's sessions, or everything.

The guarantee, stated exactly:

- A revocation reaches every replica's memory within the time Redis takes to deliver its notice,
  plus that replica's event loop reaching it: in practice before the revoking request's answer
  reaches its client. The replica that revoked drops its own entry at once.
- The memory is used only while the subscription is confirmed: subscribed, and its last
  heartbeat answered no more than :data:`~app.state.notices.HEARTBEAT_SECONDS` plus
  ``BFF_REDIS_TIMEOUT`` ago. While it is not (Redis restarting, a partition, a killed
  connection), every check asks Redis, as without a cache, and fails closed when Redis does not
  answer. A subscription lost is a memory forgotten, and a new one forgets again: notices sent
  meanwhile are lost, and a Redis that comes back empty has a new epoch. So a replica that uses
  its memory has heard every notice published more than that sum (2 s by default) before.
- A check whose ``MGET`` was in flight when any notice arrived does not store its answer (the
  :attr:`RevocationCache.generation` moved): the answer may predate the revocation.
- What publishes no notice is seen when the entry expires: data lost without a restart
  (``FLUSHALL``, a key deleted by hand), or a revocation written by a replica of an older
  version during a rolling update. Such a change reaches every replica within
  ``BFF_REVOCATION_CACHE_SECONDS``; a session check that meets a new epoch meanwhile forgets
  everything at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge

from app.ops.metrics import Metrics
from app.state.notices import RedisNotices

MAX_ENTRIES = 50_000


def session_notice(sid: str) -> str:
    return f"sid:{sid}"


def user_notice(hashed_user: str) -> str:
    return f"user:{hashed_user}"


class RevocationCache:
    """Sessions found not revoked, each until it expires or a notice names it.

    A :class:`~app.state.notices.NoticeListener`, fed by :meth:`run`. A notice is ``sid:<id>``,
    ``user:<hash>`` or ``epoch`` (:data:`app.state.epoch.EPOCH_NOTICE`).
    """

    def __init__(
        self,
        notices: RedisNotices,
        seconds: float,
        *,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self._notices = notices
        self._seconds = seconds
        self._max = max_entries
        self._clock = clock
        # sid -> (expires at, user hash). Insertion order is expiry order: every entry lives
        # equally long, and a stored entry is always put last.
        self._entries: dict[str, tuple[float, str]] = {}
        self._epoch: str | None = None  # the epoch every entry was found clean in
        self._trusted_until = 0.0  # the subscription's word holds until then (0: no subscription)
        # Moves on every notice and subscription change: a check stores its answer only when it
        # has not moved since the check asked Redis.
        self.generation = 0
        self._hit: Counter | None = None
        self._miss: Counter | None = None
        self._unconfirmed: Counter | None = None
        self._heard: Counter | None = None
        self._live: Gauge | None = None
        if metrics is not None:
            lookups = metrics.revocation_cache_lookups
            self._hit, self._miss = lookups.labels("hit"), lookups.labels("miss")
            self._unconfirmed = lookups.labels("unconfirmed")
            self._heard = metrics.revocation_notices
            self._live = metrics.revocation_notices_live
            self._live.set(0)

    async def run(self) -> None:
        """The background task that follows the notices, forever."""
        await self._notices.follow(self)

    @property
    def live(self) -> bool:
        """Whether the subscription is confirmed now, so that entries are used."""
        return self._clock() < self._trusted_until

    def status(self) -> str:
        """For ``/readyz``, as an advisory: without notices the checks are slower, as safe."""
        return "ok" if self.live else "degraded: revocation notices not confirmed, cache unused"

    # -- the request path ------------------------------------------------------------------------
    def clean(self, sid: str) -> bool:
        """Whether ``sid`` was found not revoked recently, and nothing said otherwise since."""
        now = self._clock()
        if now >= self._trusted_until:
            if self._unconfirmed is not None:
                self._unconfirmed.inc()
            return False
        entry = self._entries.get(sid)
        if entry is None or entry[0] <= now:
            if self._miss is not None:
                self._miss.inc()
            return False
        if self._hit is not None:
            self._hit.inc()
        return True

    def remember(self, sid: str, hashed_user: str, epoch: str, generation: int) -> None:
        """Store ``sid`` as clean, found so in ``epoch`` by a check that began at ``generation``."""
        now = self._clock()
        if generation != self.generation or now >= self._trusted_until:
            return
        self.saw_epoch(epoch)
        entries = self._entries
        entries.pop(sid, None)
        while entries:  # drop the expired and, when full, the oldest
            oldest = next(iter(entries))
            if entries[oldest][0] > now and len(entries) < self._max:
                break
            del entries[oldest]
        entries[sid] = (now + self._seconds, hashed_user)

    def saw_epoch(self, epoch: str) -> None:
        """A check read the state's epoch: another one than the entries' means the state was
        replaced without a notice reaching this replica; forget everything."""
        if epoch != self._epoch:
            self._forget()
            self._epoch = epoch

    # -- the notices -----------------------------------------------------------------------------
    def heard(self, notice: str) -> None:
        if self._heard is not None:
            self._heard.inc()
        self.apply(notice)

    def apply(self, notice: str) -> None:
        """Drop what ``notice`` names (also called by the replica that revoked, at once)."""
        kind, _, name = notice.partition(":")
        self.generation += 1
        if kind == "sid":
            self._entries.pop(name, None)
        elif kind == "user":
            # A scan: operator revocations are rare, and the memory is bounded.
            for sid in [sid for sid, (_, user) in self._entries.items() if user == name]:
                del self._entries[sid]
        else:  # EPOCH_NOTICE, or a notice this version does not know: trust nothing
            self._forget()

    def subscribed(self, until: float) -> None:
        self._forget()
        self._trusted_until = until
        if self._live is not None:
            self._live.set(1)

    def confirmed(self, until: float) -> None:
        self._trusted_until = until

    def lost(self) -> None:
        self._trusted_until = 0.0
        self._forget()
        if self._live is not None:
            self._live.set(0)

    def _forget(self) -> None:
        self.generation += 1
        self._entries.clear()
