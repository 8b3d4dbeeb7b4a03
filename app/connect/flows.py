"""Flows: one attempt of one browser to connect one calendar.

A flow is carried by two signed values and stored nowhere:

- the **flow token**, in the *path* of the callback URL that meetergo redirects to (meetergo may or
  may not keep a query string on ``redirectUrl``, a path always survives). It names the flow, the
  session it belongs to (as a hash: the URL passes through meetergo and the provider), the
  provider and where to return. Purpose-bound by its salt, valid for ten minutes.
- the **flow cookie**, set in the browser that started the flow. It binds the flow to that
  browser: a callback URL opened anywhere else is a hijack attempt (``flow_mismatch``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.config import Settings

FLOW_MAX_AGE = 600
FLOW_COOKIE_SECURE = "__Host-mbff_flow"
FLOW_COOKIE_INSECURE = "mbff_flow"
MAX_COOKIE_FLOWS = 3  # a double click or a retry must not break the first flow
_TOKEN_SALT = "mbff.flow-token.v1"  # noqa: S105 - a salt, not a secret
_COOKIE_SALT = "mbff.flow-cookie.v1"


def session_binding(sid: str) -> str:
    """What a flow token says of its session: enough to compare, useless to an eavesdropper."""
    return hashlib.sha256(b"mbff-flow-session:" + sid.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class FlowClaims:
    flow_id: str
    session: str  # session_binding() of the session that started the flow
    provider: str
    return_to: str | None


class FlowCodec:
    def __init__(self, settings: Settings) -> None:
        keys = [key.get_secret_value() for key in reversed(settings.session_keys)]
        self._tokens = URLSafeTimedSerializer(
            keys, salt=_TOKEN_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._cookies = URLSafeTimedSerializer(
            keys, salt=_COOKIE_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.secure = not settings.insecure_cookies
        self.cookie_name = FLOW_COOKIE_SECURE if self.secure else FLOW_COOKIE_INSECURE
        self.public_url = settings.public_url

    # -- tokens ----------------------------------------------------------------------------------
    def new_flow(self, sid: str, provider: str, return_to: str | None) -> tuple[FlowClaims, str]:
        claims = FlowClaims(secrets.token_urlsafe(16), session_binding(sid), provider, return_to)
        payload = {"f": claims.flow_id, "s": claims.session, "p": provider, "r": return_to}
        return claims, str(self._tokens.dumps(payload))

    def callback_url(self, token: str) -> str:
        return f"{self.public_url}/connect/callback/{token}"

    def read_token(self, token: str, max_age: int = FLOW_MAX_AGE) -> FlowClaims | None:
        """The claims of a genuine, unexpired token, else None."""
        try:
            payload = self._tokens.loads(token, max_age=max_age)
        except (BadSignature, SignatureExpired):
            return None
        try:
            return FlowClaims(
                str(payload["f"]),
                str(payload["s"]),
                str(payload["p"]),
                payload["r"] if isinstance(payload["r"], str) else None,
            )
        except (KeyError, TypeError):
            return None

    # -- cookie ----------------------------------------------------------------------------------
    def cookie_flows(self, value: str | None) -> list[str]:
        if not value:
            return []
        try:
            flows = self._cookies.loads(value, max_age=FLOW_MAX_AGE)
        except (BadSignature, SignatureExpired):
            return []
        return [f for f in flows if isinstance(f, str)] if isinstance(flows, list) else []

    def cookie_header(self, current: str | None, flow_id: str) -> str:
        """``Set-Cookie`` adding ``flow_id`` to this browser's recent flows."""
        flows = [*self.cookie_flows(current), flow_id][-MAX_COOKIE_FLOWS:]
        value = str(self._cookies.dumps(flows))
        parts = [f"{self.cookie_name}={value}", "Path=/", f"Max-Age={FLOW_MAX_AGE}", "HttpOnly"]
        if self.secure:
            parts.append("Secure")
        # Lax: sent on the top-level cross-site navigation back from meetergo.
        parts.append("SameSite=Lax")
        return "; ".join(parts)
