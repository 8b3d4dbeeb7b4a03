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
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

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


FlowMode = Literal["popup", "redirect"]
FLOW_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class FlowClaims:
    flow_id: str
    session: str  # session_binding() of the session that started the flow
    meetergo_user_id: str  # whose connection a hijacked flow created, to remove it
    provider: str
    mode: FlowMode
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
    def new_flow(
        self,
        *,
        sid: str,
        meetergo_user_id: str,
        provider: str,
        mode: FlowMode,
        return_to: str | None,
        flow_id: str | None = None,
    ) -> tuple[FlowClaims, str]:
        """A flow and its token; ``flow_id`` may come from the SPA, which then knows it at once."""
        claims = FlowClaims(
            flow_id=flow_id or secrets.token_urlsafe(16),
            session=session_binding(sid),
            meetergo_user_id=meetergo_user_id,
            provider=provider,
            mode=mode,
            return_to=return_to,
        )
        payload = {
            "f": claims.flow_id,
            "s": claims.session,
            "m": meetergo_user_id,
            "p": provider,
            "o": mode,
            "r": return_to,
        }
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
                flow_id=str(payload["f"]),
                session=str(payload["s"]),
                meetergo_user_id=str(payload["m"]),
                provider=str(payload["p"]),
                mode="redirect" if payload["o"] == "redirect" else "popup",
                return_to=payload["r"] if isinstance(payload["r"], str) else None,
            )
        except (KeyError, TypeError):
            return None

    # -- cookie ----------------------------------------------------------------------------------
    def browser_flows(self, value: str | None) -> dict[str, FlowResult | None]:
        """This browser's recent flows (oldest first) and the result of each finished one."""
        if not value:
            return {}
        try:
            entries: Any = self._cookies.loads(value, max_age=FLOW_MAX_AGE)
        except (BadSignature, SignatureExpired):
            return {}
        flows: dict[str, FlowResult | None] = {}
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("f"), str):
                flows[entry["f"]] = FlowResult.from_json(entry.get("r"))
        return flows

    def cookie_header(self, flows: dict[str, FlowResult | None]) -> str:
        """``Set-Cookie`` holding ``flows``: the newest few, with their results."""
        recent = list(flows.items())[-MAX_COOKIE_FLOWS:]
        entries = [{"f": f, "r": r.to_json() if r else None} for f, r in recent]
        value = str(self._cookies.dumps(entries))
        parts = [f"{self.cookie_name}={value}", "Path=/", f"Max-Age={FLOW_MAX_AGE}", "HttpOnly"]
        if self.secure:
            parts.append("Secure")
        # Lax: sent on the top-level cross-site navigation back from meetergo.
        parts.append("SameSite=Lax")
        return "; ".join(parts)


@dataclass(frozen=True)
class FlowResult:
    """How a flow ended, as the SPA learns it (postMessage, BroadcastChannel or status call)."""

    success: bool
    provider: str
    connection_id: str | None = None
    code: str | None = None  # our error code when not successful

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.success, "p": self.provider, "c": self.connection_id, "e": self.code}

    @classmethod
    def from_json(cls, value: Any) -> FlowResult | None:
        if not isinstance(value, dict):
            return None
        return cls(
            success=value.get("ok") is True,
            provider=str(value.get("p")),
            connection_id=value["c"] if isinstance(value.get("c"), str) else None,
            code=value["e"] if isinstance(value.get("e"), str) else None,
        )
