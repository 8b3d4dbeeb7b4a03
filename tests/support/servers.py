"""Real servers on ephemeral loopback ports for integration tests.

Each server is a genuine uvicorn instance listening on a socket that the test owns, so a test talks
to it exactly as a browser or the service would: over TCP, through the whole ASGI stack.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def bind_ephemeral(host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on a free port chosen by the kernel."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    return sock


@contextlib.contextmanager
def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    *,
    url_host: str | None = None,
    sock: socket.socket | None = None,
) -> Iterator[RunningServer]:
    """Run ``app`` under uvicorn in a background thread until the block ends.

    ``url_host`` is the name put in the URL (``localhost`` or ``127.0.0.1``) so that tests can place
    two servers on different sites. ``sock`` is a socket the caller bound already, when it needs
    the port before it can build the app (a service whose settings name its own URL).
    """
    sock = sock or bind_ephemeral(host)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(url_host or host, port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
