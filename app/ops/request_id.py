"""Request ids: accepted from the caller when well-formed, generated otherwise, always returned.

A pure ASGI middleware (no response buffering), so it wraps every answer, errors included.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_HEADER = HEADER.encode()
# Long enough for a UUID or a trace id, short and plain enough to be safe in logs and headers.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _current.get()


def _choose(raw: bytes | None) -> str:
    if raw is not None:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if _WELL_FORMED.match(text):
            return text
    # 128 random bits as 32 hex characters, like a UUID4's hex without its formatting cost.
    return os.urandom(16).hex()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = next((value for name, value in scope["headers"] if name == _HEADER), None)
        request_id = _choose(raw)
        scope.setdefault("state", {})["request_id"] = request_id
        token = _current.set(request_id)
        header = (_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(n, v) for n, v in message.get("headers", ()) if n.lower() != _HEADER]
                headers.append(header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
