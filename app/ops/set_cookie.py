"""Cookies queued during a request and added to whatever response it ends with.

Handlers and dependencies queue a ``Set-Cookie`` value with :func:`queue_cookie`; this middleware
adds it to the response, whether the handler returned a model, a passed-through upstream response
or an error. That is how a refreshed session cookie reaches the browser on every kind of answer.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_STATE_KEY = "set_cookie"


def queue_cookie(request: Request, header_value: str) -> None:
    request.scope.setdefault("state", {}).setdefault(_STATE_KEY, []).append(header_value)


class SetCookieMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for value in scope.get("state", {}).get(_STATE_KEY, ()):
                    headers.append("Set-Cookie", value)
            await send(message)

        await self.app(scope, receive, send_with_cookies)
