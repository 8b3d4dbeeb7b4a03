"""Request dependencies for the signed-in user: their session and their meetergo user id."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request

from app.deps import from_app_state
from app.errors import ErrorCode, ProblemError
from app.ops.set_cookie import queue_cookie
from app.session.identity import user_hash
from app.session.mapping import UserMapping, UserMappingUnavailable
from app.session.sessions import Session, SessionManager

logger = logging.getLogger(__name__)

_DEAD_SESSION = frozenset(
    {ErrorCode.UNAUTHENTICATED, ErrorCode.SESSION_EXPIRED, ErrorCode.SESSION_REVOKED}
)


# What a route that needs a session (or a meetergo user) can answer: app/contract.py documents it.
SESSION_PROBLEMS = (*sorted(_DEAD_SESSION), ErrorCode.SHARED_STATE_UNAVAILABLE)
MAPPING_PROBLEMS = (ErrorCode.USER_NOT_MAPPED, ErrorCode.USER_MAPPING_UNAVAILABLE)

SessionsDep = Annotated[SessionManager, from_app_state("sessions")]
UserMappingDep = Annotated[UserMapping, from_app_state("user_mapping")]


async def authenticate_request(
    request: Request, sessions: SessionManager, *, activity: bool
) -> Session:
    cookie = request.cookies.get(sessions.codec.name)
    try:
        checked = await sessions.authenticate(cookie, activity=activity)
    except ProblemError as exc:
        if cookie is not None and exc.code in _DEAD_SESSION:
            queue_cookie(request, sessions.codec.clear_header())  # a dead cookie is dropped
        raise
    request.scope.setdefault("state", {})["user_hash"] = user_hash(checked.session.data.sub)
    if checked.refreshed_cookie is not None:
        queue_cookie(request, sessions.codec.set_header(checked.refreshed_cookie))
    return checked.session


async def active_session(request: Request, sessions: SessionsDep) -> Session:
    """The caller's session; this call counts as activity and slides the idle timeout."""
    return await authenticate_request(request, sessions, activity=True)


async def passive_session(request: Request, sessions: SessionsDep) -> Session:
    """The caller's session, checked without counting as activity (status polls)."""
    return await authenticate_request(request, sessions, activity=False)


ActiveSessionDep = Annotated[Session, Depends(active_session)]
PassiveSessionDep = Annotated[Session, Depends(passive_session)]


async def meetergo_user_id(
    request: Request, session: ActiveSessionDep, mapping: UserMappingDep
) -> str:
    """The meetergo user id calendar calls are made for; 403 when the user has none.

    A ticket's ``meetergo_user_id`` claim is fixed for the session (the cookie holds it). Without
    one, the mapping answers on every call, never from the cookie: a mapping change (a user
    removed or moved to another id, the endpoint answering 404) reaches open sessions within
    the mapping's cache time (``BFF_USER_MAPPING_CACHE_TTL``; the file within a second).
    """
    if session.data.mid is not None:
        return session.data.mid
    try:
        found = await mapping.lookup(session.data.sub)
    except UserMappingUnavailable as exc:
        logger.error("user mapping failed for user %s: %s", user_hash(session.data.sub), exc)
        raise ProblemError(
            ErrorCode.USER_MAPPING_UNAVAILABLE, headers={"Retry-After": "10"}
        ) from None
    if found is None:
        raise ProblemError(ErrorCode.USER_NOT_MAPPED)
    return found


MeetergoUserDep = Annotated[str, Depends(meetergo_user_id)]
