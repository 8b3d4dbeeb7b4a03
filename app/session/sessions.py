"""Sessions: started from a login ticket, checked on every call, ended by logout or an operator.

Every rule is enforced on the server from the signed cookie, whatever the browser keeps:

- idle timeout, sliding: each authenticated call that counts as activity moves ``seen`` forward,
  re-issuing the cookie at most once per ``session_refresh_interval``;
- absolute timeout from ``iat``, never extended;
- revocation of one session (logout) or of every session of a user issued up to a moment (the
  operator's action), kept in shared state so every replica honours it;
- the shared state's epoch (:mod:`app.state.epoch`): a session issued before the state was lost
  is refused, so a lost revocation cannot bring it back.

Every revocation is written with a notice to every replica (:mod:`app.state.notices`), so that a
replica's revocation cache (:mod:`app.session.revocation_cache`), which lets a session found clean
skip the shared state for a few seconds, forgets it at once.

A logout while the shared state does not answer still ends the session in the browser; the
revocation is then kept in this process (:attr:`SessionManager.pending`), refused locally at
once, and written to the shared state as soon as it answers again (:meth:`flush_pending`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import anyio

from app.config import Settings
from app.errors import ErrorCode, ProblemError
from app.ops.metrics import Metrics
from app.session.cookie import SessionCookieCodec, SessionData
from app.session.identity import new_session_id, user_hash
from app.session.revocation_cache import RevocationCache, session_notice, user_notice
from app.session.tickets import LoginTicket
from app.state.epoch import EPOCH_KEY, StateEpoch
from app.state.notices import Notices, notices_for
from app.state.store import SharedState, SharedStateUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PENDING_REVOCATIONS = 100_000
PENDING_FLUSH_INTERVAL = 0.5  # seconds between two attempts to write pending revocations


@dataclass(frozen=True)
class Session:
    data: SessionData
    idle_expires_at: float
    absolute_expires_at: float

    @property
    def expires_at(self) -> float:
        return min(self.idle_expires_at, self.absolute_expires_at)


@dataclass(frozen=True)
class Authenticated:
    """A checked session, and the cookie to send back when it was refreshed."""

    session: Session
    refreshed_cookie: str | None


class SessionManager:
    def __init__(
        self,
        settings: Settings,
        state: SharedState,
        clock: Callable[[], float] = time.time,
        *,
        metrics: Metrics | None = None,
        notices: Notices | None = None,
        cache: RevocationCache | None = None,
    ) -> None:
        self.codec = SessionCookieCodec(settings)
        self._metrics = metrics
        self._state = state
        self._clock = clock
        self._notices = notices if notices is not None else notices_for(state)
        self.epoch = StateEpoch(state, clock, notices=self._notices)
        # Sessions found clean lately (Redis only; None: every check asks the shared state).
        self.cache = cache
        # Logouts whose revocation the shared state did not take yet: sid -> absolute end.
        self.pending: dict[str, float] = {}
        self._idle = settings.session_idle_timeout
        self._absolute = settings.session_absolute_timeout
        self._refresh = settings.session_refresh_interval

    # -- starting --------------------------------------------------------------------------------
    async def start(self, ticket: LoginTicket) -> tuple[Session, str]:
        """A new session (always a new id) for the ticket's user, and its cookie value.

        The cookie holds the ticket's ``meetergo_user_id`` claim, if any, for the session's life;
        a mapped id is never stored, so that a mapping change reaches the session.
        """
        epoch = await self._guarded(self.epoch.current())
        now = round(self._clock(), 3)
        data = SessionData(
            sid=new_session_id(),
            sub=ticket.sub,
            mid=ticket.meetergo_user_id,
            name=ticket.name,
            iat=now,
            seen=now,
            ep=epoch.id,
        )
        logger.info("session started for user %s", user_hash(ticket.sub))
        if self._metrics:
            self._metrics.sessions_started.inc()
        return self._session(data), self.codec.encode(data)

    # -- checking --------------------------------------------------------------------------------
    async def authenticate(self, cookie: str | None, *, activity: bool) -> Authenticated:
        """Check the cookie; raise ProblemError (401) when it does not carry a live session.

        ``activity`` says whether this call counts as the user being active (it slides the idle
        timeout) or is a background check such as ``/auth/me`` (it does not).
        """
        data = self.codec.decode(cookie) if cookie else None
        if data is None:
            raise ProblemError(ErrorCode.UNAUTHENTICATED)
        now = self._clock()
        session = self._session(data)
        if now >= session.absolute_expires_at or now >= session.idle_expires_at:
            raise ProblemError(ErrorCode.SESSION_EXPIRED)
        if await self._is_revoked(data):
            raise ProblemError(ErrorCode.SESSION_REVOKED)
        if activity and now - data.seen >= self._refresh:
            fresh = replace(data, seen=round(now, 3))
            return Authenticated(self._session(fresh), self.codec.encode(fresh))
        return Authenticated(session, None)

    def peek(self, cookie: str | None) -> SessionData | None:
        """The signed content of a cookie without any other check (for logout)."""
        return self.codec.decode(cookie) if cookie else None

    # -- ending ----------------------------------------------------------------------------------
    async def revoke(self, data: SessionData) -> None:
        """End one session on every replica (logout)."""
        await self._guarded(self._record(data.sid, self._absolute))
        logger.info("session revoked for user %s", user_hash(data.sub))
        if self._metrics:
            self._metrics.sessions_revoked.labels("session").inc()

    async def revoke_or_defer(self, data: SessionData) -> bool:
        """End one session; False when the shared state could not record it (yet).

        The revocation is then pending in this process: this replica refuses the session at once,
        and :meth:`flush_pending` writes it to the shared state as soon as it answers.
        """
        try:
            await self._record(data.sid, self._absolute)
        except SharedStateUnavailable:
            self._defer(data)
            return False
        logger.info("session revoked for user %s", user_hash(data.sub))
        if self._metrics:
            self._metrics.sessions_revoked.labels("session").inc()
        return True

    async def flush_pending(self) -> int:
        """Write pending revocations to the shared state; how many are still pending."""
        now = self._clock()
        for sid, ends_at in list(self.pending.items()):
            if ends_at <= now:  # the session is over by itself: nothing left to revoke
                del self.pending[sid]
                continue
            try:
                await self._record(sid, ends_at - now)
            except SharedStateUnavailable:
                break
            del self.pending[sid]
            logger.warning("pending logout recorded in the shared state")
            if self._metrics:
                self._metrics.sessions_revoked.labels("session").inc()
        self._report_pending()
        return len(self.pending)

    async def run_pending(self, interval: float = PENDING_FLUSH_INTERVAL) -> None:
        """The background task that writes pending revocations, forever."""
        while True:
            if self.pending:
                await self.flush_pending()
            await anyio.sleep(interval)

    def _defer(self, data: SessionData) -> None:
        if len(self.pending) >= MAX_PENDING_REVOCATIONS:
            oldest = min(self.pending, key=self.pending.__getitem__)
            del self.pending[oldest]
            logger.error("too many pending logouts: the oldest is forgotten")
        self.pending[data.sid] = data.iat + self._absolute
        self._report_pending()
        logger.error(
            "logout of a session of user %s not recorded: shared state unavailable; pending",
            user_hash(data.sub),
        )

    def _report_pending(self) -> None:
        if self._metrics:
            self._metrics.revocations_pending.set(len(self.pending))

    async def revoke_user(self, app_user_id: str) -> float:
        """End every session of a user issued until now, on every replica; return that moment."""
        moment = self._clock()
        hashed = user_hash(app_user_id)
        notice = user_notice(hashed)
        await self._guarded(
            self._notices.put(f"rev:user:{hashed}", repr(moment), self._absolute, notice)
        )
        if self.cache is not None:
            self.cache.apply(notice)
        logger.warning("all sessions revoked for user %s", user_hash(app_user_id))
        if self._metrics:
            self._metrics.sessions_revoked.labels("user").inc()
        return moment

    # -- internals -------------------------------------------------------------------------------
    async def _record(self, sid: str, ttl: float) -> None:
        """Write one session's revocation, told to every replica; forget it here at once."""
        notice = session_notice(sid)
        await self._notices.put(f"rev:sid:{sid}", "1", ttl, notice)
        if self.cache is not None:
            self.cache.apply(notice)

    def _session(self, data: SessionData) -> Session:
        return Session(
            data=data,
            idle_expires_at=data.seen + self._idle,
            absolute_expires_at=data.iat + self._absolute,
        )

    async def _is_revoked(self, data: SessionData) -> bool:
        if data.sid in self.pending:
            return True
        cache = self.cache
        if cache is not None and cache.clean(data.sid):
            return False
        # Taken before asking: a notice that arrives while the answer is on its way may be about
        # this session, and then the answer must not be remembered.
        generation = cache.generation if cache is not None else 0
        hashed = user_hash(data.sub)
        keys = [f"rev:sid:{data.sid}", f"rev:user:{hashed}", EPOCH_KEY]
        by_session, by_user, held = await self._guarded(self._state.get_many(keys))
        epoch = await self._guarded(self.epoch.settle(held))
        if data.ep != epoch.id:
            logger.info("session of user %s is from a lost state epoch", hashed)
            if cache is not None:
                cache.saw_epoch(epoch.id)
            return True
        if by_session is not None or (by_user is not None and data.iat <= float(by_user)):
            return True
        if cache is not None:
            cache.remember(data.sid, hashed, epoch.id, generation)
        return False

    @staticmethod
    async def _guarded(operation: Awaitable[T]) -> T:
        # Fail closed: without the shared state a revoked session could pass.
        try:
            return await operation
        except SharedStateUnavailable:
            logger.exception("shared state unavailable")
            raise ProblemError(
                ErrorCode.SHARED_STATE_UNAVAILABLE, headers={"Retry-After": "5"}
            ) from None
