"""Refusing request paths whose meaning changes when they are decoded, before any routing.

Routing matches the *decoded* path, so ``/connections/<id>%2Fcalendars`` would be routed as the
calendars call and ``%2e%2e`` as a dot segment that some hop further on may collapse. No route of
this service needs an encoded separator: a path whose raw form (``scope["raw_path"]``) holds
``%2F``, ``%5C`` or a segment that is a dot or two dots once decoded is answered 400
``invalid_path``, before CSRF, sessions or the upstream call.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ErrorCode, problem_response

_ENCODED_SEPARATORS = (b"%2f", b"%5c")
_DOT_SEGMENTS = frozenset({b".", b".."})


def refused_raw_path(raw_path: bytes) -> bool:
    """Whether ``raw_path`` holds an encoded separator or an encoded dot segment."""
    if b"%" not in raw_path:  # the common case costs one scan
        return False
    lowered = raw_path.lower()
    if any(marker in lowered for marker in _ENCODED_SEPARATORS):
        return True
    return any(
        b"%2e" in segment and segment.replace(b"%2e", b".") in _DOT_SEGMENTS
        for segment in lowered.split(b"/")
    )


class RawPathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path")
            if raw_path is not None and refused_raw_path(raw_path):
                await problem_response(ErrorCode.INVALID_PATH)(scope, receive, send)
                return
        await self.app(scope, receive, send)
