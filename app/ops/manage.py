"""Operator endpoints under ``/manage``, guarded by their own bearer token.

Server-to-server only: no cookies, no CSRF header, no CORS. Without ``BFF_MANAGEMENT_TOKEN`` the
routes answer 404, as if they did not exist.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel

from app.contract import problems
from app.deps import SettingsDep
from app.errors import ErrorCode, ProblemError
from app.session.deps import SessionsDep

router = APIRouter(prefix="/manage", tags=["operations"])


class Revocation(BaseModel):
    revokedBefore: datetime  # noqa: N815


def _authorize(settings: SettingsDep, authorization: str | None) -> None:
    if settings.management_token is None:
        raise ProblemError(ErrorCode.NOT_FOUND)
    expected = f"Bearer {settings.management_token.get_secret_value()}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise ProblemError(
            ErrorCode.UNAUTHENTICATED,
            "The management token is missing or wrong.",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.post(
    "/users/{app_user_id}/revoke-sessions",
    operation_id="revokeUserSessions",
    summary="End every session of one user, on every replica",
    response_model=Revocation,
    responses=problems(
        ErrorCode.NOT_FOUND,  # no management token configured: the route does not exist
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.VALIDATION_ERROR,
        ErrorCode.SHARED_STATE_UNAVAILABLE,
    ),
)
async def revoke_user_sessions(
    app_user_id: Annotated[str, Path(min_length=1, max_length=256)],
    settings: SettingsDep,
    sessions: SessionsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Revocation:
    _authorize(settings, authorization)
    moment = await sessions.revoke_user(app_user_id)
    return Revocation(revokedBefore=datetime.fromtimestamp(moment, UTC))
