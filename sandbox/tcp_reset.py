"""Cutting a client's TCP connection with a reset (RST), the way a crashed proxy or peer does.

ASGI has no way to do this, so the sandbox reaches for the server's transport: under uvicorn the
``send`` callable handed to the app is a bound method of the request cycle, whose ``transport`` is
the asyncio transport of the connection. :class:`~sandbox.app.SandboxApp` stores it in the scope
under :data:`TRANSPORT_SCOPE_KEY` before any middleware wraps ``send``. With ``SO_LINGER`` set to
zero, closing the socket sends RST instead of FIN. Under another server (or an in-process test
client) there is no transport: the caller then answers 502 instead, and says so in the body.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Any, Protocol

from starlette.types import Scope, Send

TRANSPORT_SCOPE_KEY = "sandbox.transport"


class AbortableTransport(Protocol):
    def abort(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


def transport_of(send: Send) -> AbortableTransport | None:
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if callable(getattr(transport, "abort", None)) and callable(
        getattr(transport, "get_extra_info", None)
    ):
        found: AbortableTransport = transport  # type: ignore[assignment]
        return found
    return None


def reset_connection(scope: Scope) -> bool:
    """Abort the request's connection with RST. False when the server gave no transport."""
    transport: AbortableTransport | None = scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Without the linger option the abort still closes, only with FIN rather than RST.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True
