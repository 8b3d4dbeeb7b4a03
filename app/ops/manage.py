"""Operator endpoints under ``/manage``, guarded by their own bearer token.

Server-to-server only: no cookies, no CSRF header, no CORS. Without ``BFF_MANAGEMENT_TOKEN`` the
routes answer 404, as if they did not exist.

A user id may be any printable text a login ticket's ``sub`` can carry, ``/`` included, while
encoded separators in paths are refused before routing (``invalid_path``). So the documented form
takes the id in a JSON body (``POST /manage/sessions/revoke``); the older path form stays for ids
that fit in a path segment as they are.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path
from pydantic import BaseModel, ConfigDict, Field

from app.contract import problems
from app.deps import SettingsDep
from app.errors import ErrorCode, ProblemError
from app.session.deps import SessionsDep

PREFIX = "/manage"


# The same rule as a login ticket's ``sub``: every id that can sign in can be revoked.
APP_USER_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
AppUserId = Annotated[str, Field(min_length=1, max_length=256, pattern=APP_USER_ID_PATTERN)]


class Revocation(BaseModel):
    revokedBefore: datetime  # noqa: N815


class RevocationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appUserId: AppUserId  # noqa: N815


async def _authorize(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Runs before the body is read: a caller without the token learns nothing about it."""
    if settings.management_token is None:
        raise ProblemError(ErrorCode.NOT_FOUND)
    expected = f"Bearer {settings.management_token.get_secret_value()}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise ProblemError(
            ErrorCode.UNAUTHENTICATED,
            "The management token is missing or wrong.",
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter(prefix=PREFIX, tags=["operations"], dependencies=[Depends(_authorize)])


async def _revoke(sessions: SessionsDep, app_user_id: str) -> Revocation:
    moment = await sessions.revoke_user(app_user_id)
    return Revocation(revokedBefore=datetime.fromtimestamp(moment, UTC))


@router.post(
    "/sessions/revoke",
    operation_id="revokeSessions",
    summary="End every session of one user, on every replica (any user id)",
    response_model=Revocation,
    responses=problems(
        ErrorCode.NOT_FOUND,  # no management token configured: the route does not exist
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.VALIDATION_ERROR,
        ErrorCode.SHARED_STATE_UNAVAILABLE,
    ),
)
async def revoke_sessions(request: RevocationRequest, sessions: SessionsDep) -> Revocation:
    return await _revoke(sessions, request.appUserId)


@router.post(
    "/users/{app_user_id}/revoke-sessions",
    operation_id="revokeUserSessions",
    summary="End every session of one user whose id needs no escaping in a path",
    response_model=Revocation,
    responses=problems(
        ErrorCode.NOT_FOUND,  # no management token configured: the route does not exist
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.VALIDATION_ERROR,
        ErrorCode.SHARED_STATE_UNAVAILABLE,
    ),
)
async def revoke_user_sessions(
    app_user_id: Annotated[str, Path(min_length=1, max_length=256, pattern=APP_USER_ID_PATTERN)],
    sessions: SessionsDep,
) -> Revocation:
    return await _revoke(sessions, app_user_id)
