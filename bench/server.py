"""``python -m bench.server {sandbox,service,naive} --fd N``: one server process for the benchmarks.

The parent (``bench.proxy_overhead``) binds the listening socket on 127.0.0.1 itself, so it knows
the port before anything starts, and hands it over as an inherited file descriptor. The settings
arrive as one JSON line on stdin; the parent keeps stdin open for as long as it wants the server.

The process ends by itself, whatever happens to the parent:

- on EOF on stdin (the parent closed it, exited or was killed),
- on SIGTERM/SIGINT (uvicorn's own handlers),
- after ``--max-seconds`` at the latest.

The service runs as ``meetergo-bff serve`` runs it (``app.server.build_server``: asyncio's loop and
httptools when installed, JSON access log at the configured level, here written to wherever the
parent sent stdout). The sandbox runs under plain uvicorn with the same loop and parser, without
an access log: it stands in for meetergo and its own logging is not what is being measured.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

import uvicorn

MAX_LIFETIME_SECONDS = 3600.0


def _sandbox_server(config: dict[str, Any]) -> uvicorn.Server:
    from sandbox.app import create_sandbox_app  # noqa: PLC0415 - only the chosen role's imports
    from sandbox.config import SandboxSettings  # noqa: PLC0415

    app = create_sandbox_app(SandboxSettings(**config))
    return uvicorn.Server(
        uvicorn.Config(
            app,
            loop="auto",
            http="auto",
            lifespan="on",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )


def _naive_server(config: dict[str, Any]) -> uvicorn.Server:
    from bench.naive_proxy import create_naive_proxy  # noqa: PLC0415 - only the chosen role's

    app = create_naive_proxy(config["upstream_url"])
    return uvicorn.Server(
        uvicorn.Config(
            app, loop="auto", http="auto", lifespan="on", access_log=False, log_level="warning"
        )
    )


def _service_server(config: dict[str, Any]) -> uvicorn.Server:
    from app.config import Settings  # noqa: PLC0415 - only the chosen role's imports
    from app.main import create_app  # noqa: PLC0415
    from app.ops.logs import configure_logging  # noqa: PLC0415
    from app.server import build_server  # noqa: PLC0415

    settings = Settings(**config, _env_file=None)
    configure_logging(settings.log_level, settings.secret_values())
    # host and port are unused: the server runs on the inherited socket.
    return build_server(create_app(settings), settings, "127.0.0.1", 0)


def _stop_when(server: uvicorn.Server, max_seconds: float) -> None:
    """Ask ``server`` to exit on EOF on stdin, or after ``max_seconds``, whichever comes first."""
    done = threading.Event()

    def watch_stdin() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        done.set()

    threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()

    def stop() -> None:
        done.wait(max_seconds)
        server.should_exit = True

    threading.Thread(target=stop, name="stopper", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__)
    parser.add_argument("role", choices=("sandbox", "service", "naive"))
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    max_seconds = min(max(args.max_seconds, 1.0), MAX_LIFETIME_SECONDS)

    sock = socket.socket(fileno=args.fd)
    host, _ = sock.getsockname()
    if host != "127.0.0.1":
        parser.error(f"the benchmark serves on loopback only, not on {host}")
    config: dict[str, Any] = json.loads(sys.stdin.buffer.readline())
    build = {"sandbox": _sandbox_server, "service": _service_server, "naive": _naive_server}[
        args.role
    ]
    server = build(config)
    _stop_when(server, max_seconds)
    server.run(sockets=[sock])
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
