"""CSRF and origin checks for every ``/api`` and ``/auth`` call, before any other work.

Two independent defences, as OWASP's CSRF cheat sheet recommends for an API called by a SPA:

1. A custom header, ``X-CSRF: 1``, on every call. A cross-origin page cannot add it without a CORS
   preflight, which only the configured app origins pass; a plain form or image cannot add it.
2. For state-changing methods, the browser-set ``Origin`` (or, when a browser omits it, the
   ``Referer``) must equal a configured app origin exactly, and ``Sec-Fetch-Site: cross-site``
   is refused outright. A call with neither ``Origin`` nor ``Referer`` is refused: browsers always
   send one of them on these calls, so its absence means something stripped it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ErrorCode, problem_response

HEADER = "x-csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class CsrfMiddleware:
    # What it answers, for app/contract.py: on every guarded call, and on state-changing ones.
    PROBLEMS = (ErrorCode.CSRF_FAILED,)
    UNSAFE_PROBLEMS = (ErrorCode.ORIGIN_NOT_ALLOWED,)

    def __init__(
        self, app: ASGIApp, *, prefixes: tuple[str, ...], origins: tuple[str, ...]
    ) -> None:
        self.app = app
        self.prefixes = prefixes
        self.origins = frozenset(origins)

    def _protected(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._protected(scope["path"]):
            code = self.refusal(scope)
            if code is not None:
                await problem_response(code)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> ErrorCode | None:
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        if headers.get(HEADER) != "1":
            return ErrorCode.CSRF_FAILED
        if scope["method"] in SAFE_METHODS:
            return None
        if headers.get("sec-fetch-site") == "cross-site":
            return ErrorCode.ORIGIN_NOT_ALLOWED
        origin = headers.get("origin")
        if origin is None:
            referer = headers.get("referer")
            origin = _origin_of(referer) if referer else None
        if origin is None or origin not in self.origins:
            return ErrorCode.ORIGIN_NOT_ALLOWED
        return None
