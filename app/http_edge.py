"""The HTTP edge: what the server refuses before a request reaches the application.

uvicorn's httptools protocol puts no bound on the size or number of request headers, no deadline
on reading them (a client that sends half a header and then nothing holds its connection
forever), none on reading a body that stops short of its ``Content-Length``, and none on the
number of open connections. :class:`GuardedHttpToolsProtocol` adds each of them, in the server
that ``meetergo-bff serve`` (the container's CMD) runs, so the service stays up without a
reverse proxy in front:

- request line plus headers over ``max_header_bytes``, or more than ``max_header_count``
  headers: 431 ``request_headers_too_large``, connection closed;
- headers not complete ``header_timeout`` seconds after the connection opened (or after the
  first byte of a following request on a kept-alive connection): 408 ``request_timeout``,
  closed;
- a body not complete ``body_timeout`` seconds after its headers: the connection is closed (the
  application sees the client leave, and logs a 499);
- more than ``max_connections`` open connections: the new one is answered 503
  ``too_many_connections`` at once and closed; those already open are served.

Other parse errors (a malformed request line) are answered as problem+json too (400
``malformed_request``) instead of uvicorn's plain text.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.errors import CATALOG, ErrorCode, problem_document

_STATUS_TEXT = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@dataclass(frozen=True)
class EdgeLimits:
    max_header_bytes: int
    max_header_count: int
    header_timeout: float
    body_timeout: float
    max_connections: int


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is already written."""


def problem_bytes(code: ErrorCode, *, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 problem+json answer that closes the connection."""
    body = json.dumps(problem_document(code, request_id=os.urandom(16).hex())).encode()
    status = CATALOG[code].status
    lines = [
        b"HTTP/1.1 %d %s" % (status, _STATUS_TEXT[status]),
        b"content-type: application/problem+json",
        b"content-length: %d" % len(body),
        b"cache-control: no-store",
        b"connection: close",
    ]
    if retry_after is not None:
        lines.append(b"retry-after: %d" % retry_after)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounded headers, read deadlines and a connection cap."""

    limits: EdgeLimits  # set by protocol_class()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._header_count = 0
        self._refusal: ErrorCode | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # -- connections -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refusal = ErrorCode.TOO_MANY_CONNECTIONS
            transport.write(problem_bytes(ErrorCode.TOO_MANY_CONNECTIONS, retry_after=1))
            transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # answered and closing: read nothing more
        super().data_received(data)

    # -- parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._header_count = 0
        if self._header_timer is None:
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), headers=0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), headers=1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()
        if self._expects_body():
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_too_slow)

    def on_message_complete(self) -> None:
        # Only here: an answer sent before the body arrived (a 413) leaves the rest of the body
        # on its deadline, or a client trickling it would hold the connection.
        self._cancel_body_timer()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # Called by uvicorn when parsing failed; a refusal of ours is parsing stopped on purpose.
        code = self._refusal or ErrorCode.MALFORMED_REQUEST
        self._refusal = code
        self._cancel_timers()
        self.transport.write(problem_bytes(code))
        self.transport.close()

    # -- limits --------------------------------------------------------------------------------
    def _count(self, size: int, *, headers: int) -> None:
        # httptools may deliver one header in several pieces: the count is of bytes, and a
        # header's pieces add one header each at most, which only errs on the safe side.
        self._head_bytes += size
        self._header_count += headers
        if (
            self._head_bytes > self.limits.max_header_bytes
            or self._header_count > self.limits.max_header_count
        ):
            self._refusal = ErrorCode.REQUEST_HEADERS_TOO_LARGE
            raise _Refused

    def _expects_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value.strip(b" 0")):
                return True
        return False

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._header_too_slow)

    def _header_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        self._refusal = ErrorCode.REQUEST_TIMEOUT
        if self.cycle is None or self.cycle.response_complete:
            # Nothing is being answered on this connection: say why it is closed.
            self.transport.write(problem_bytes(ErrorCode.REQUEST_TIMEOUT))
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        self._refusal = ErrorCode.REQUEST_TIMEOUT
        # The application is waiting for the body: closing makes it see a client that left.
        self.transport.close()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()


def protocol_class(limits: EdgeLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http`` setting, with these limits."""
    return type("LimitedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})
