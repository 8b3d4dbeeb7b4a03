"""The state epoch: proof that the shared state still holds everything it was told.

Revocations and used login tickets are remembered in shared state. If that state is lost (Redis
restarts empty, fails over to a replica that missed writes, or evicts keys), a deny-list that
forgets would let a revoked session or a spent ticket work again. So the state carries one more
key, ``epoch``, with no expiry: a random id and the moment it was made.

- Every session is issued under the current epoch and carries its id in the signed cookie; a
  session whose epoch is not the current one is refused (``session_revoked``).
- A login ticket issued (``iat``) no later than the moment the current epoch began is refused
  (``ticket_expired``): it may have been spent under the old state, whose "used" marker is
  lost. ``iat`` may carry fractions (RFC 7519 allows it; ``mint_ticket`` gives microseconds,
  rounded down); a whole-second ``iat`` in the epoch's own second counts as before, so an app
  that mints whole seconds sees its tickets of that one second refused once. This compares the
  app backend's clock with the replica's: keep them in sync (NTP), as operator revocation asks.
- A missing epoch is replaced at once with a new one (an atomic ``ensure``: one winner across
  replicas), which refuses every session and ticket from before. Losing the state logs
  everybody out; it never lets anything back in.

The epoch is read in the same round trip as the revocation keys on every session check that
asks the shared state. A replica's revocation cache (app/session/revocation_cache.py) skips that
round trip for a few seconds, so a new epoch is announced to every replica in the same step that
makes it (:data:`EPOCH_NOTICE`, app/state/notices.py), and each one forgets every session it
remembered; a Redis that restarted also broke every replica's subscription, which forgets too.
The in-process backend holds its epoch for the life of the process, as it holds everything else.

What this needs from Redis is in docs/operations.md: ``maxmemory-policy noeviction`` (or a
``volatile-*`` policy, which never takes the epoch since it has no expiry, but may take
revocations: not allowed), and no persistence that can restore an older copy of the data.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.state.notices import Notices, notices_for
from app.state.store import SharedState, SharedStateUnavailable

logger = logging.getLogger(__name__)

EPOCH_KEY = "epoch"
EPOCH_NOTICE = "epoch"  # told to every replica when a new epoch begins


@dataclass(frozen=True)
class Epoch:
    id: str
    started_at: float  # Unix seconds, on the clock of the replica that made it

    def encode(self) -> str:
        return f"{self.id} {self.started_at!r}"  # full precision: see the ticket check

    @classmethod
    def decode(cls, value: str) -> Epoch | None:
        ident, _, started = value.partition(" ")
        try:
            return cls(ident, float(started)) if ident else None
        except ValueError:
            return None


class StateEpoch:
    """Reads, and when missing makes, the shared state's epoch."""

    def __init__(
        self,
        state: SharedState,
        clock: Callable[[], float] = time.time,
        *,
        notices: Notices | None = None,
    ) -> None:
        self._state = state
        self._clock = clock
        self._notices = notices if notices is not None else notices_for(state)

    async def current(self) -> Epoch:
        """The epoch now; SharedStateUnavailable when the state does not answer."""
        return await self.settle(await self._state.get(EPOCH_KEY))

    async def settle(self, held: str | None) -> Epoch:
        """The epoch, given what a read of :data:`EPOCH_KEY` returned (None: make a new one)."""
        if held is None:
            fresh = Epoch(secrets.token_urlsafe(12), self._clock())
            held = await self._notices.ensure(EPOCH_KEY, fresh.encode(), EPOCH_NOTICE)
            if held == fresh.encode():
                # A warning, not an error: every first start says it too (and every start of
                # the in-process state).
                logger.warning(
                    "shared state had no epoch: a new one begins, and every session and login "
                    "ticket issued before it is refused (first start, or the state was lost)"
                )
        epoch = Epoch.decode(held)
        if epoch is None:
            # Nobody but this service writes the key; garbage means the state cannot be trusted.
            raise SharedStateUnavailable("the shared state's epoch is unreadable")
        return epoch
