"""The session cookie: what it holds, how it is signed, and the attributes it is sent with.

The cookie is signed (itsdangerous, HMAC-SHA256), not encrypted: it holds nothing secret, only a
random session id, the app user id, the login ticket's meetergo user id claim if it had one (a
mapped id is never kept: see app/session/deps.py), a display name, the two timestamps the server
enforces its timeouts from, and the shared state's epoch (app/state/epoch.py). Signing keys are
a list: the newest signs, every key verifies, so a key can be rotated in without logging anybody
out, and removing a key ends every session it signed.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer

from app.config import Settings

# __Host-Http-: Secure, Path=/, no Domain (as __Host-), and in browsers that know the prefix
# (Chromium, Firefox) page script can neither set nor overwrite nor shadow it, even when no such
# cookie exists yet. Browsers that do not know it still see a __Host- cookie. See docs/design.md.
SECURE_NAME = "__Host-Http-mbff_session"
INSECURE_NAME = "mbff_session"  # development only: no prefix is possible without Secure
_SALT = "mbff.session.v1"
_FORMAT = 2  # 2: the state epoch ``ep``; cookies of format 1 are refused (one logout at upgrade)
# Cookies verified recently, per process: a browser sends the same value on every call until the
# cookie slides, so its HMAC and JSON are checked once, not on every request.
VERIFIED_COOKIES = 4096


@dataclass(frozen=True)
class SessionData:
    """The signed content of a session cookie. Timestamps are Unix seconds."""

    sid: str
    sub: str
    mid: str | None
    name: str | None
    iat: float
    seen: float
    ep: str  # the shared state's epoch the session was issued under (app/state/epoch.py)


class SessionCookieCodec:
    """Signs and verifies session cookies; knows their name and attributes."""

    # Lax: the browser sends the cookie on same-site requests and on top-level GET navigations
    # from other sites. The return from meetergo's consent flow is exactly such a navigation, so
    # the callback sees the session; cross-site subrequests (forms posted by other sites, images,
    # fetches) never carry it. CSRF is stopped by the X-CSRF header and the Origin check, with
    # SameSite as defence in depth. Strict would drop the cookie on the callback.
    same_site: Literal["lax"] = "lax"

    def __init__(self, settings: Settings) -> None:
        # itsdangerous signs with the last key and verifies with all; settings list newest first.
        keys = [key.get_secret_value() for key in reversed(settings.session_keys)]
        self._serializer = URLSafeSerializer(
            keys,
            salt=_SALT,
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self.secure = not settings.insecure_cookies
        self.name = SECURE_NAME if self.secure else INSECURE_NAME
        self.max_age = settings.session_absolute_timeout
        # value -> its checked content. Only cookies that passed are kept (a forged value is
        # checked each time it comes, as before); the content holds no time: every rule that
        # depends on the clock is applied to it on each request (app/session/sessions.py).
        self._verified: OrderedDict[str, SessionData] = OrderedDict()

    def encode(self, data: SessionData) -> str:
        payload = {"v": _FORMAT, **asdict(data)}
        return str(self._serializer.dumps(payload))

    def decode(self, value: str) -> SessionData | None:
        """The session in ``value``, or None when the signature or the shape is wrong."""
        known = self._verified.get(value)
        if known is not None:
            self._verified.move_to_end(value)
            return known
        data = self._verify(value)
        if data is not None:
            self._verified[value] = data
            if len(self._verified) > VERIFIED_COOKIES:
                self._verified.popitem(last=False)
        return data

    def _verify(self, value: str) -> SessionData | None:
        try:
            payload: Any = self._serializer.loads(value)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or payload.get("v") != _FORMAT:
            return None
        try:
            data = SessionData(
                sid=payload["sid"],
                sub=payload["sub"],
                mid=payload["mid"],
                name=payload["name"],
                iat=float(payload["iat"]),
                seen=float(payload["seen"]),
                ep=payload["ep"],
            )
        except (KeyError, TypeError, ValueError):
            return None
        if not all(isinstance(value, str) for value in (data.sid, data.sub, data.ep)):
            return None
        return data

    def set_header(self, value: str) -> str:
        """The ``Set-Cookie`` value that stores ``value``."""
        return self._header(value, self.max_age)

    def clear_header(self) -> str:
        """The ``Set-Cookie`` value that removes the cookie."""
        return self._header("", 0) + "; Expires=Thu, 01 Jan 1970 00:00:00 GMT"

    def _header(self, value: str, max_age: int) -> str:
        # __Host-(Http-) cookies must be Secure, have Path=/ and no Domain (and HttpOnly for
        # __Host-Http-); the browser enforces it.
        parts = [f"{self.name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
        if self.secure:
            parts.append("Secure")
        parts.append(f"SameSite={self.same_site.capitalize()}")
        return "; ".join(parts)
