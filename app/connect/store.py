"""Flow records in shared state: what a flow is, who decided it, which connections it may remove.

Keys hold hashes, never the flow key itself: whoever can list the shared state's keys learns
nothing that opens a callback. Every key expires shortly after the flow token does.

- ``flow:<hash>``: the :class:`~app.connect.flows.FlowClaims`, written when the flow starts.
- ``flow-claim:<hash>``: who arrived first at the callback, ``owner`` or ``foreign``. Set with an
  atomic add, so one callback decides a flow across every replica; the others read the winner.
- ``flow-connection:<hash of user and connection>``: ``owner`` when an owner's callback reports
  the connection (it is then never removed), ``remover`` when a hijack defence removes it (no
  owner is then told it succeeded). Atomic like the flow claim.

Every method raises :class:`~app.state.store.SharedStateUnavailable` when the state does not
answer; callers decide what that means (see :mod:`app.connect.routes`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from app.connect.flows import FLOW_MAX_AGE, FlowClaims
from app.state.store import SharedState

# A record outlives its token a little: a callback checked at the token's last second still
# finds it. The claim lives as long, so a late replay cannot claim a decided flow afresh.
RECORD_TTL = FLOW_MAX_AGE + 60

Claimant = Literal["owner", "foreign"]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(("mbff-flow", *parts)).encode()).hexdigest()[:40]


class FlowStore:
    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def save(self, flow_key: str, claims: FlowClaims) -> None:
        await self._state.put(f"flow:{_digest(flow_key)}", json.dumps(claims.to_json()), RECORD_TTL)

    async def load(self, flow_key: str) -> FlowClaims | None:
        raw = await self._state.get(f"flow:{_digest(flow_key)}")
        if raw is None:
            return None
        try:
            return FlowClaims.from_json(json.loads(raw))
        except ValueError:
            return None

    async def claim(self, flow_key: str, claimant: Claimant) -> tuple[bool, Claimant | None]:
        """Whether ``claimant`` decides this flow (it came first), and who does.

        The holder is None when the claim vanished between the two steps (it expired at that
        instant): then nobody may act on the flow.
        """
        key = f"flow-claim:{_digest(flow_key)}"
        if await self._state.add(key, claimant, RECORD_TTL):
            return True, claimant
        holder = await self._state.get(key)
        return False, holder if holder in ("owner", "foreign") else None  # type: ignore[return-value]

    async def claim_connection(
        self, meetergo_user_id: str, connection_id: str, claimant: Literal["owner", "remover"]
    ) -> bool:
        """Whether ``claimant`` may act on this connection of this user: it asked first.

        The owner's confirmation (to report success) and a hijack defence's removal (of a
        connection another, older flow of the same user names) exclude each other: whichever
        comes first wins, and the other leaves the connection alone.
        """
        key = f"flow-connection:{_digest(meetergo_user_id, connection_id)}"
        if await self._state.add(key, claimant, RECORD_TTL):
            return True
        return await self._state.get(key) == claimant
