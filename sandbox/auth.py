"""Who is calling and for whom: meetergo's authentication, checked in meetergo's order."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from sandbox import assumptions
from sandbox.clock import utc_now
from sandbox.errors import (
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from sandbox.recorder import KEY_SCOPE_KEY, RATE_LIMITED_SCOPE_KEY
from sandbox.runtime import RuntimeDep, SandboxRuntime
from sandbox.seed import KEYS_BY_TOKEN, ApiKey, User

USER_HEADER = "x-meetergo-api-user-id"
MISSING_AUTHORIZATION = "Missing authorization header"
INVALID_KEY = "Invalid API key"
EXPIRED_KEY = "API key has expired"
MISSING_USER_HEADER = "Missing required header 'x-meetergo-api-user-id' for API key authentication"
USER_NOT_FOUND = "User not found"
TOO_MANY_REQUESTS = "Too Many Requests"

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass(frozen=True)
class Actor:
    """The key that authenticated the request and the user it acts for."""

    key: ApiKey
    user: User


def _key_of(authorization: str, runtime: SandboxRuntime) -> ApiKey:
    scheme, _, token = authorization.strip().partition(" ")
    key = KEYS_BY_TOKEN.get(token.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise UnauthorizedError(INVALID_KEY)
    expires_at = runtime.key_expiry.get(key.name, key.expires_at)
    if expires_at is not None and expires_at <= utc_now():
        raise UnauthorizedError(EXPIRED_KEY)
    return key


def _user_of(users: dict[str, User], key: ApiKey, user_id: str) -> User:
    user = users.get(user_id.lower()) if _UUID.match(user_id) else None
    if user is None or user.company_id != key.company_id:
        raise NotFoundError(USER_NOT_FOUND)
    return user


async def authenticate(request: Request, runtime: RuntimeDep) -> Actor:
    """Steps 1 to 7 of ``docs/sandbox.md``; each failing step raises its documented error."""
    authorization = request.headers.get("authorization")
    if not authorization:
        raise UnauthorizedError(MISSING_AUTHORIZATION)
    key = _key_of(authorization, runtime)
    bucket = assumptions.rate_limit_bucket(key.bucket_id)
    request.scope[KEY_SCOPE_KEY] = bucket
    if not runtime.limiter.take(bucket):
        request.scope[RATE_LIMITED_SCOPE_KEY] = True
        raise TooManyRequestsError(TOO_MANY_REQUESTS, headers=_retry_after(runtime, bucket))

    user_header = request.headers.get(USER_HEADER)
    if not user_header:
        if key.owner_id is None:
            raise BadRequestError(MISSING_USER_HEADER)
        user_header = key.owner_id
    user = _user_of(runtime.users, key, user_header)
    if key.owner_id is not None and user.id != key.owner_id:
        raise ForbiddenError(assumptions.FORBIDDEN_MESSAGE)

    named = request.query_params.getlist("userId")
    if named:
        named_id = named[0] if len(named) == 1 else ""
        if key.may_act_for_others:
            user = _user_of(runtime.users, key, named_id)
        elif named_id.lower() != user.id:
            raise ForbiddenError(assumptions.FORBIDDEN_MESSAGE)
    return Actor(key, user)


def _retry_after(runtime: SandboxRuntime, bucket: str) -> dict[str, str]:
    """meetergo sends no Retry-After; ``SANDBOX_RATE_LIMIT_RETRY_AFTER`` can make it send one."""
    setting = runtime.settings.rate_limit_retry_after
    if setting == "none":
        return {}
    if setting == "computed":
        seconds = math.ceil(runtime.limiter.seconds_until_token(bucket))
        return {"Retry-After": str(max(1, seconds))}
    return {"Retry-After": str(setting)}


ActorDep = Annotated[Actor, Depends(authenticate)]
