"""Starting a flow, for both ways in (``/connect/{provider}`` and the ``getAuthUrl`` API route).

Before meetergo is asked for the consent URL, the user's connection ids are read (through the
proxy pipeline, so the read cache serves them when the settings page has just listed them) and
kept in the flow's record. The hijack defence later removes only a connection absent from that
list. A flow whose list cannot be read or whose record cannot be stored does not start: a flow
whose hijack could not be undone is not worth its risk, and the user simply tries again.
"""

from __future__ import annotations

import json

from fastapi import Request

from app.connect.flows import FlowClaims, FlowCodec, FlowMode
from app.connect.store import FlowStore
from app.errors import ErrorCode, ProblemError
from app.quota.budget import Priority
from app.session.identity import user_hash
from app.session.sessions import Session
from app.state.store import SharedStateUnavailable
from app.upstream.call import UpstreamCall
from app.upstream.proxy import CalendarProxy
from app.upstream.responses import to_response
from app.upstream.table import ROUTES_BY_ID


def listed_connection_ids(body: bytes) -> set[str] | None:
    """The ids in a ``listConnections`` answer, or None when it is not one."""
    try:
        listed = json.loads(body)
    except ValueError:
        return None
    connections = listed.get("connections") if isinstance(listed, dict) else None
    if not isinstance(connections, list):
        return None
    return {c["id"] for c in connections if isinstance(c, dict) and isinstance(c.get("id"), str)}


async def list_connection_ids(
    request: Request, session: Session, meetergo_user_id: str, *, confirm: bool = False
) -> set[str]:
    """The user's connection ids as meetergo lists them; ProblemError when it cannot.

    At a flow's start a fresh cached list will do (the settings page has usually just read it;
    writes and connects invalidate it), never a stale copy. ``confirm`` (the callback) always asks
    meetergo, at write priority and not charged to the user's share: it checks their own action.
    """
    proxy: CalendarProxy = request.app.state.calendar_proxy
    call = UpstreamCall(
        route=ROUTES_BY_ID["listConnections"],
        meetergo_user_id=meetergo_user_id,
        app_user_hash=user_hash(session.data.sub),
        path_params={},
        request_id=getattr(request.state, "request_id", None),
        allow_stale=False,
        fresh=confirm,
        system=confirm,
        priority=Priority.WRITE if confirm else None,
    )
    ids = listed_connection_ids(bytes(to_response(call, await proxy.handle(call)).body))
    if ids is None:
        raise ProblemError(ErrorCode.UPSTREAM_BAD_RESPONSE)
    return ids


async def begin_flow(
    request: Request,
    *,
    session: Session,
    meetergo_user_id: str,
    provider: str,
    mode: FlowMode,
    return_to: str | None,
    flow_id: str | None = None,
) -> tuple[FlowClaims, str]:
    """A recorded flow and its token; ProblemError when it cannot be started safely."""
    flows: FlowCodec = request.app.state.flows
    store: FlowStore = request.app.state.flow_store
    known = await list_connection_ids(request, session, meetergo_user_id)
    claims, key, token = flows.new_flow(
        sid=session.data.sid,
        meetergo_user_id=meetergo_user_id,
        provider=provider,
        mode=mode,
        return_to=return_to,
        known=frozenset(known),
        flow_id=flow_id,
    )
    try:
        await store.save(key, claims)
    except SharedStateUnavailable:
        raise ProblemError(
            ErrorCode.SHARED_STATE_UNAVAILABLE, headers={"Retry-After": "5"}
        ) from None
    return claims, token
