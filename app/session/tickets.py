"""Login tickets: the short-lived, single-use JWT with which the app's backend hands a user over.

The app's backend already knows who is signed in. It mints a ticket (``sub`` = its own user id)
and gives it to its frontend, which posts it to ``/auth/session`` once. From then on the browser
holds only an HttpOnly session cookie.

The one accepted algorithm is pinned by configuration: ``none``, any other HMAC or asymmetric
algorithm, and HS/RS key confusion are refused by PyJWT before a claim is read.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms
from jwt.types import Options

from app.config import ConfigError, Settings, env_name
from app.errors import ErrorCode, ProblemError
from app.session.identity import user_hash
from app.session.mapping import canonical_uuid
from app.state.epoch import StateEpoch
from app.state.store import SharedState, SharedStateUnavailable

logger = logging.getLogger(__name__)

REQUIRED_CLAIMS = ("sub", "iat", "exp", "jti", "aud")
# What redeeming a ticket can answer (app/contract.py documents it on POST /auth/session).
TICKET_PROBLEMS = (
    ErrorCode.TICKET_INVALID,
    ErrorCode.TICKET_EXPIRED,
    ErrorCode.TICKET_REPLAYED,
    ErrorCode.SHARED_STATE_UNAVAILABLE,
)
LEEWAY_SECONDS = 5  # clock skew tolerated between the app's backend and this service
MAX_TICKET_CHARS = 8192
_MAX_SUB = 256
_MAX_NAME = 200
_MAX_EMAIL = 320
_JTI = re.compile(r"^[\x21-\x7e]{8,128}$")  # printable ASCII, no spaces
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")


@dataclass(frozen=True)
class LoginTicket:
    """The verified claims of a ticket."""

    sub: str
    jti: str
    issued_at: float  # Unix seconds; fractions kept (see the state epoch check in redeem)
    expires_at: float
    meetergo_user_id: str | None
    name: str | None
    email: str | None


def load_verification_key(settings: Settings) -> Any:
    """The key that verifies tickets, prepared once; a bad key stops the service at start-up."""
    algorithm = get_default_algorithms()[settings.ticket_algorithm]
    if settings.ticket_algorithm == "HS256":
        assert settings.ticket_secret is not None  # noqa: S101 - enforced by Settings
        return settings.ticket_secret.get_secret_value().encode()
    assert settings.ticket_public_key is not None  # noqa: S101 - enforced by Settings
    text = settings.ticket_public_key
    if "-----BEGIN" not in text:
        try:
            text = Path(text).read_text(encoding="ascii")
        except OSError as exc:
            raise ConfigError(
                [f"{env_name('ticket_public_key')}: cannot read the key file {text!r} ({exc})"]
            ) from None
    if "PRIVATE KEY" in text:
        raise ConfigError(
            [
                f"{env_name('ticket_public_key')} holds a private key: give this service only "
                "the public key"
            ]
        )
    try:
        return algorithm.prepare_key(text)
    except (ValueError, TypeError, jwt.InvalidKeyError) as exc:
        raise ConfigError(
            [
                f"{env_name('ticket_public_key')} is not a {settings.ticket_algorithm} public key "
                f"in PEM form ({type(exc).__name__})"
            ]
        ) from None


class TicketVerifier:
    """Checks a ticket and spends it. Shared state makes "once" hold across replicas."""

    def __init__(
        self,
        settings: Settings,
        state: SharedState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._algorithm = settings.ticket_algorithm
        self._key = load_verification_key(settings)
        self._audience = settings.ticket_audience
        self._issuer = settings.ticket_issuer
        self._max_age = settings.ticket_max_age
        self._state = state
        self._clock = clock
        self._epoch = StateEpoch(state, clock)

    async def redeem(self, token: str) -> LoginTicket:
        """Verify ``token`` and mark it used; raise ProblemError when it cannot start a session."""
        ticket = self.verify(token)
        ttl = max(ticket.expires_at - self._clock(), 0) + LEEWAY_SECONDS
        digest = hashlib.sha256(ticket.jti.encode()).hexdigest()
        try:
            epoch = await self._epoch.current()
            # Not after the epoch began: it may have been spent before, its marker lost since. A
            # whole-second iat of the epoch's own second counts as before: to be safe, refused.
            if ticket.issued_at <= epoch.started_at:
                # Its "used" marker may have been lost with the previous state: never trust it.
                logger.warning(
                    "login ticket issued before the shared state's epoch (user %s)",
                    user_hash(ticket.sub),
                )
                raise ProblemError(ErrorCode.TICKET_EXPIRED)
            fresh = await self._state.add(f"ticket:{digest}", "used", ttl)
        except SharedStateUnavailable:
            # Fail closed, as sessions do: without the shared state a used ticket could pass.
            logger.exception("shared state unavailable")
            raise ProblemError(
                ErrorCode.SHARED_STATE_UNAVAILABLE, headers={"Retry-After": "5"}
            ) from None
        if not fresh:
            logger.warning("login ticket replayed (user %s)", user_hash(ticket.sub))
            raise ProblemError(ErrorCode.TICKET_REPLAYED)
        return ticket

    def verify(self, token: str) -> LoginTicket:
        if len(token) > MAX_TICKET_CHARS:
            raise self._invalid("longer than any ticket")
        options: Options = {"require": list(REQUIRED_CLAIMS), "strict_aud": True}
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options=options,
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise ProblemError(ErrorCode.TICKET_EXPIRED) from None
        except jwt.InvalidTokenError as exc:
            raise self._invalid(type(exc).__name__) from None
        return self._claims(claims)

    def _claims(self, claims: dict[str, Any]) -> LoginTicket:
        sub, jti = claims["sub"], claims["jti"]
        issued_at, expires_at = claims["iat"], claims["exp"]
        if not isinstance(sub, str) or not 0 < len(sub) <= _MAX_SUB or not _PRINTABLE.match(sub):
            raise self._invalid("sub is not a printable string of 1 to 256 characters")
        if not isinstance(jti, str) or not _JTI.match(jti):
            raise self._invalid("jti is not 8 to 128 printable ASCII characters")
        if not isinstance(issued_at, int | float) or not isinstance(expires_at, int | float):
            raise self._invalid("iat and exp must be numbers")
        if expires_at - issued_at > self._max_age:
            raise self._invalid(f"lifetime exp - iat exceeds {self._max_age} s")
        if issued_at > self._clock() + LEEWAY_SECONDS:
            raise self._invalid("iat is in the future")
        mapped = claims.get("meetergo_user_id")
        meetergo_user_id = None
        if mapped is not None:
            meetergo_user_id = canonical_uuid(mapped)
            if meetergo_user_id is None:
                raise self._invalid("meetergo_user_id is not a UUID")
        return LoginTicket(
            sub=sub,
            jti=jti,
            issued_at=float(issued_at),
            expires_at=float(expires_at),
            meetergo_user_id=meetergo_user_id,
            name=self._display(claims.get("name"), _MAX_NAME, "name"),
            email=self._display(claims.get("email"), _MAX_EMAIL, "email"),
        )

    def _display(self, value: Any, limit: int, claim: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > limit or not _PRINTABLE.match(value):
            raise self._invalid(f"{claim} is not a printable string of at most {limit} characters")
        return value

    @staticmethod
    def _invalid(reason: str) -> ProblemError:
        # The reason is for the operator; the client learns only that the ticket was refused.
        logger.warning("login ticket refused: %s", reason)
        return ProblemError(ErrorCode.TICKET_INVALID)


def mint_ticket(
    *,
    key: Any,
    algorithm: str,
    audience: str,
    sub: str,
    ttl: int = 60,
    issuer: str | None = None,
    meetergo_user_id: str | None = None,
    name: str | None = None,
    email: str | None = None,
    now: float | None = None,
) -> str:
    """Mint a ticket as an app's backend would (for the CLI, the demo and tests)."""
    # Microseconds, rounded down: RFC 7519 allows a fractional NumericDate, and a whole second
    # would make a ticket minted in the very second a new state epoch began look older than it.
    issued = math.floor((time.time() if now is None else now) * 1_000_000) / 1_000_000
    claims: dict[str, Any] = {
        "sub": sub,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    optional = {"iss": issuer, "meetergo_user_id": meetergo_user_id, "name": name, "email": email}
    claims.update({claim: value for claim, value in optional.items() if value is not None})
    return jwt.encode(claims, key, algorithm=algorithm)
