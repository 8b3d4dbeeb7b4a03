"""Request bodies on the JSON API: JSON only, small, and of declared length.

Checked before routing so that a wrong content type or an oversized body costs nothing: no
session lookup, no parsing, no upstream call.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ErrorCode, problem_response

MAX_BODY_BYTES = 16 * 1024  # a calendar PATCH is a few hundred bytes; a ticket under 8 KiB
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


class JsonBodyMiddleware:
    # What it answers on a call with a body, for app/contract.py.
    PROBLEMS = (
        ErrorCode.LENGTH_REQUIRED,
        ErrorCode.PAYLOAD_TOO_LARGE,
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    )

    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _BODYLESS:
            path: str = scope["path"]
            if any(path == p or path.startswith(p + "/") for p in self.prefixes):
                code = self.refusal(scope)
                if code is not None:
                    await problem_response(code)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    def refusal(scope: Scope) -> ErrorCode | None:
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None:
            # Without a length there may still be a chunked body: refuse it rather than buffer it.
            return ErrorCode.LENGTH_REQUIRED if b"transfer-encoding" in headers else None
        try:
            size = int(length)
        except ValueError:
            return ErrorCode.LENGTH_REQUIRED
        if size > MAX_BODY_BYTES:
            return ErrorCode.PAYLOAD_TOO_LARGE
        if size == 0:
            return None
        media_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if media_type != b"application/json":
            return ErrorCode.UNSUPPORTED_MEDIA_TYPE
        return None
