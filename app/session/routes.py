"""``/auth``: start a session from a login ticket, read it, end it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.contract import problems
from app.deps import SettingsDep, from_app_state
from app.errors import ErrorCode, ProblemError
from app.ops.set_cookie import queue_cookie
from app.session.deps import (
    SESSION_PROBLEMS,
    PassiveSessionDep,
    SessionsDep,
    UserMappingDep,
    authenticate_request,
)
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

    authenticated: Literal[True] = Field(default=True, description="Always true here.")
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


class SignedOutStatus(BaseModel):
    """``/auth/status`` when nobody is signed in: a state, not an error."""

    authenticated: Literal[False] = Field(default=False, description="Always false here.")
    code: Literal["unauthenticated", "session_expired", "session_revoked"] = Field(
        description="Why: no valid session cookie, the session timed out, or it was ended."
    )


_SIGNED_OUT = frozenset(
    {ErrorCode.UNAUTHENTICATED, ErrorCode.SESSION_EXPIRED, ErrorCode.SESSION_REVOKED}
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
    session, cookie = await sessions.start(ticket)
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
    *, session: PassiveSessionDep, mapping: UserMappingDep, response: Response
) -> SessionProfile:
    response.headers.update(_NO_STORE)
    return await _current_profile(session, mapping)


@router.get(
    "/status",
    operation_id="getSessionStatus",
    summary="Whether anyone is signed in: the profile, or why not, always 200",
    response_model=SessionProfile | SignedOutStatus,
)
async def status(
    *, request: Request, sessions: SessionsDep, mapping: UserMappingDep, response: Response
) -> SessionProfile | SignedOutStatus:
    """Like ``/auth/me``, but being signed out is an answer, not an error.

    A page that checks on every visit then logs no failed request in the browser's console.
    Does not extend the idle timeout.
    """
    response.headers.update(_NO_STORE)
    try:
        session = await authenticate_request(request, sessions, activity=False)
    except ProblemError as exc:
        if exc.code not in _SIGNED_OUT:
            raise
        return SignedOutStatus.model_validate({"code": exc.code.value})
    return await _current_profile(session, mapping)


async def _current_profile(session: Session, mapping: UserMappingDep) -> SessionProfile:
    mapped = session.data.mid is not None
    if not mapped:
        # Asked each time (the mapping caches): a user mapped or unmapped since login shows.
        try:
            mapped = await mapping.lookup(session.data.sub) is not None
        except UserMappingUnavailable:
            mapped = False
    return _profile(session, mapped=mapped)


class PendingLogout(BaseModel):
    """A logout the shared state could not record yet."""

    revocationRecorded: Literal[False] = Field(  # noqa: N815
        description="The cookie is removed from this browser, but the server-side revocation "
        "is not recorded yet: this replica refuses the session at once and records it as soon "
        "as the shared state answers again."
    )


@router.post(
    "/logout",
    operation_id="endSession",
    summary="End the session on every replica and remove the cookie",
    status_code=204,
    response_class=Response,
    responses={
        **problems(ErrorCode.SHARED_STATE_UNAVAILABLE),
        204: {"description": "Session ended everywhere; cookie removed."},
        202: {
            "description": "Cookie removed, but the shared state did not answer: the "
            "revocation is pending (see the body).",
            "model": PendingLogout,
        },
    },
)
async def logout(request: Request, sessions: SessionsDep, settings: SettingsDep) -> Response:
    data = sessions.peek(request.cookies.get(sessions.codec.name))
    recorded = await sessions.revoke_or_defer(data) if data is not None else True
    queue_cookie(request, sessions.codec.clear_header())
    headers = dict(_NO_STORE)
    if settings.logout_clear_site_data:
        headers["Clear-Site-Data"] = '"cookies"'
    if not recorded:
        body = PendingLogout(revocationRecorded=False).model_dump_json().encode()
        return Response(body, status_code=202, headers=headers, media_type="application/json")
    return Response(status_code=204, headers=headers)
