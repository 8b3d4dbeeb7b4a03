"""``/auth``: start a session from a login ticket, read it, end it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.contract import problems
from app.deps import SettingsDep, from_app_state
from app.errors import ErrorCode
from app.ops.set_cookie import queue_cookie
from app.session.deps import SESSION_PROBLEMS, PassiveSessionDep, SessionsDep, UserMappingDep
from app.session.identity import user_hash
from app.session.mapping import UserMappingUnavailable
from app.session.sessions import Session
from app.session.tickets import MAX_TICKET_CHARS, TICKET_PROBLEMS, TicketVerifier

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/auth", tags=["session"])
_NO_STORE = {"Cache-Control": "no-store"}


TicketsDep = Annotated[TicketVerifier, from_app_state("tickets")]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=1, max_length=MAX_TICKET_CHARS, description="The login ticket.")


class SessionProfile(BaseModel):
    """What the SPA may know about the signed-in user."""

    appUserId: str = Field(description="The app's own user id (the ticket's `sub`).")  # noqa: N815
    name: str | None = Field(description="Display name from the ticket, if any.")
    meetergoUserMapped: bool = Field(  # noqa: N815
        description="Whether calendar calls can be made for this user."
    )
    expiresAt: datetime = Field(  # noqa: N815
        description="When the session ends if the user stays idle (never after the absolute end)."
    )
    absoluteExpiresAt: datetime = Field(  # noqa: N815
        description="When the session ends whatever the activity."
    )


def _profile(session: Session, *, mapped: bool) -> SessionProfile:
    return SessionProfile(
        appUserId=session.data.sub,
        name=session.data.name,
        meetergoUserMapped=mapped,
        expiresAt=datetime.fromtimestamp(session.expires_at, UTC),
        absoluteExpiresAt=datetime.fromtimestamp(session.absolute_expires_at, UTC),
    )


@router.post(
    "/session",
    operation_id="startSession",
    summary="Start a session from a login ticket",
    response_model=SessionProfile,
    responses=problems(TICKET_PROBLEMS, ErrorCode.VALIDATION_ERROR),
)
async def start_session(
    *,
    body: LoginRequest,
    request: Request,
    response: Response,
    tickets: TicketsDep,
    sessions: SessionsDep,
    mapping: UserMappingDep,
) -> SessionProfile:
    ticket = await tickets.redeem(body.ticket)
    meetergo_user_id = ticket.meetergo_user_id
    if meetergo_user_id is None:
        try:
            meetergo_user_id = await mapping.lookup(ticket.sub)
        except UserMappingUnavailable as exc:
            # Logging in still works; calendar calls retry the lookup.
            logger.error("user mapping failed at login for %s: %s", user_hash(ticket.sub), exc)
    # A login replaces any session this browser had (no fixation, no orphaned session).
    previous = sessions.peek(request.cookies.get(sessions.codec.name))
    if previous is not None:
        await sessions.revoke(previous)
    session, cookie = sessions.start(ticket, meetergo_user_id)
    queue_cookie(request, sessions.codec.set_header(cookie))
    response.headers.update(_NO_STORE)
    return _profile(session, mapped=meetergo_user_id is not None)


@router.get(
    "/me",
    operation_id="getSession",
    summary="The signed-in user (does not extend the idle timeout)",
    response_model=SessionProfile,
    responses=problems(SESSION_PROBLEMS),
)
async def me(
    *,
    request: Request,
    session: PassiveSessionDep,
    sessions: SessionsDep,
    mapping: UserMappingDep,
    response: Response,
) -> SessionProfile:
    response.headers.update(_NO_STORE)
    mapped = session.data.mid is not None
    if not mapped:
        # The user may have been mapped since login; the lookup is cached by the mapping.
        try:
            found = await mapping.lookup(session.data.sub)
        except UserMappingUnavailable:
            found = None
        if found is not None:
            queue_cookie(
                request, sessions.codec.set_header(sessions.with_meetergo_user(session, found))
            )
            mapped = True
    return _profile(session, mapped=mapped)


@router.post(
    "/logout",
    operation_id="endSession",
    summary="End the session on every replica and remove the cookie",
    status_code=204,
    response_class=Response,
    responses=problems(ErrorCode.SHARED_STATE_UNAVAILABLE),
)
async def logout(request: Request, sessions: SessionsDep, settings: SettingsDep) -> Response:
    data = sessions.peek(request.cookies.get(sessions.codec.name))
    if data is not None:
        await sessions.revoke(data)
    queue_cookie(request, sessions.codec.clear_header())
    headers = dict(_NO_STORE)
    if settings.logout_clear_site_data:
        headers["Clear-Site-Data"] = '"cookies"'
    return Response(status_code=204, headers=headers)
