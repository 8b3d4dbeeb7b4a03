"""Pending connection flows: the opaque ``state`` of an authUrl, the codes the consent issues."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sandbox.clock import Clock


@dataclass(frozen=True)
class ConsentFlow:
    state: str
    provider: str
    user_id: str
    redirect_url: str | None
    set_as_calendar_sync: bool
    expires_at: float


@dataclass(frozen=True)
class Grant:
    """What the user answered on the consent screen, redeemed by meetergo's callback."""

    state: str
    email: str
    calendar_scope: bool


class FlowStore:
    def __init__(self, clock: Clock, ttl_seconds: float) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._flows: dict[str, ConsentFlow] = {}
        self._grants: dict[str, Grant] = {}

    def clear(self) -> None:
        self._flows.clear()
        self._grants.clear()

    def open(
        self, *, provider: str, user_id: str, redirect_url: str | None, set_as_calendar_sync: bool
    ) -> ConsentFlow:
        self._forget_expired()
        flow = ConsentFlow(
            state=secrets.token_urlsafe(24),
            provider=provider,
            user_id=user_id,
            redirect_url=redirect_url,
            set_as_calendar_sync=set_as_calendar_sync,
            expires_at=self._clock() + self._ttl,
        )
        self._flows[flow.state] = flow
        return flow

    def find(self, state: str, provider: str) -> ConsentFlow | None:
        """The live flow with this state for this provider, or None (unknown, expired, other)."""
        flow = self._flows.get(state)
        if flow is None or flow.provider != provider or self._clock() >= flow.expires_at:
            return None
        return flow

    def finish(self, flow: ConsentFlow) -> None:
        """A flow answers once: its state and any code issued for it stop working."""
        self._flows.pop(flow.state, None)
        for code in [code for code, grant in self._grants.items() if grant.state == flow.state]:
            del self._grants[code]

    def issue_code(self, flow: ConsentFlow, *, email: str, calendar_scope: bool) -> str:
        code = secrets.token_urlsafe(24)
        self._grants[code] = Grant(flow.state, email, calendar_scope)
        return code

    def redeem(self, code: str, flow: ConsentFlow) -> Grant | None:
        grant = self._grants.pop(code, None)
        if grant is None or grant.state != flow.state:
            return None
        return grant

    def _forget_expired(self) -> None:
        now = self._clock()
        for flow in [flow for flow in self._flows.values() if now >= flow.expires_at]:
            self.finish(flow)
