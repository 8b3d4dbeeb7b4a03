"""Flows: one attempt of one browser to connect one calendar.

A flow is carried by two signed values and one shared-state record:

- the **flow token**, in the *path* of the callback URL that meetergo redirects to (meetergo may or
  may not keep a query string on ``redirectUrl``, a path always survives). It is opaque: a random
  flow key and nothing else, signed and purpose-bound by its salt, valid for ten minutes. The URL
  passes through meetergo, the provider, the browser's history and possibly logs, so it carries
  no user id, no session hash, no return URL.
- the **flow record** (:mod:`app.connect.store`), in shared state under a hash of the flow key: the
  flow id, the session it belongs to (as a hash), the meetergo user id, the provider, where to
  return, and the user's connection ids when the flow started.
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
FLOW_COOKIE_SECURE = "__Host-Http-mbff_flow"
FLOW_COOKIE_INSECURE = "mbff_flow"
MAX_COOKIE_FLOWS = 3  # a double click or a retry must not break the first flow
_TOKEN_SALT = "mbff.flow-token.v2"  # noqa: S105 - a salt, not a secret
_COOKIE_SALT = "mbff.flow-cookie.v1"
_FLOW_KEY = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def session_binding(sid: str) -> str:
    """What a flow record says of its session: enough to compare, useless to an eavesdropper."""
    return hashlib.sha256(b"mbff-flow-session:" + sid.encode()).hexdigest()[:32]


FlowMode = Literal["popup", "redirect"]
FLOW_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class FlowClaims:
    """What the service knows of a flow: kept in shared state, never in the URL."""

    flow_id: str
    session: str  # session_binding() of the session that started the flow
    meetergo_user_id: str  # whose connection a hijacked flow created, to remove it
    provider: str
    mode: FlowMode
    return_to: str | None
    known: frozenset[str]  # the user's connection ids when the flow started

    def to_json(self) -> dict[str, Any]:
        return {
            "f": self.flow_id,
            "s": self.session,
            "m": self.meetergo_user_id,
            "p": self.provider,
            "o": self.mode,
            "r": self.return_to,
            "k": sorted(self.known),
        }

    @classmethod
    def from_json(cls, payload: Any) -> FlowClaims | None:
        try:
            known = payload["k"]
            if not isinstance(known, list) or not all(isinstance(c, str) for c in known):
                return None
            return cls(
                flow_id=str(payload["f"]),
                session=str(payload["s"]),
                meetergo_user_id=str(payload["m"]),
                provider=str(payload["p"]),
                mode="redirect" if payload["o"] == "redirect" else "popup",
                return_to=payload["r"] if isinstance(payload["r"], str) else None,
                known=frozenset(known),
            )
        except (KeyError, TypeError):
            return None


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
        known: frozenset[str],
        flow_id: str | None = None,
    ) -> tuple[FlowClaims, str, str]:
        """A flow, its secret flow key and its token (the signed key).

        ``flow_id`` may come from the SPA, which then knows it at once; it is not a secret and
        not unique, so the record is found by the flow key, which only the service makes.
        """
        claims = FlowClaims(
            flow_id=flow_id or secrets.token_urlsafe(16),
            session=session_binding(sid),
            meetergo_user_id=meetergo_user_id,
            provider=provider,
            mode=mode,
            return_to=return_to,
            known=known,
        )
        key = secrets.token_urlsafe(24)
        return claims, key, str(self._tokens.dumps({"k": key}))

    def callback_url(self, token: str) -> str:
        return f"{self.public_url}/connect/callback/{token}"

    def read_token(self, token: str, max_age: int = FLOW_MAX_AGE) -> str | None:
        """The flow key of a genuine, unexpired token, else None."""
        try:
            payload = self._tokens.loads(token, max_age=max_age)
        except (BadSignature, SignatureExpired):
            return None
        key = payload.get("k") if isinstance(payload, dict) else None
        return key if isinstance(key, str) and _FLOW_KEY.match(key) else None

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
    retry_after: int | None = None  # seconds, when waiting helps (a spent budget)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.success,
            "p": self.provider,
            "c": self.connection_id,
            "e": self.code,
            "ra": self.retry_after,
        }

    @classmethod
    def from_json(cls, value: Any) -> FlowResult | None:
        if not isinstance(value, dict):
            return None
        return cls(
            success=value.get("ok") is True,
            provider=str(value.get("p")),
            connection_id=value["c"] if isinstance(value.get("c"), str) else None,
            code=value["e"] if isinstance(value.get("e"), str) else None,
            retry_after=value["ra"] if isinstance(value.get("ra"), int) else None,
        )
