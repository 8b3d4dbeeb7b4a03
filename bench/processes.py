"""Server processes for the benchmarks: the sandbox and the service (``python -m bench.server``).

The listening socket is bound here on 127.0.0.1 and handed to the child (``pass_fds``), so the
port is known before the child starts; the child reads its settings as one JSON line on stdin and
exits on EOF there, on SIGTERM, or after ``max_seconds``: it never outlives the benchmark for long.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.servers import bind_ephemeral

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
HEALTH_PATH = "/healthz"
STARTUP_SECONDS = 60.0  # generous: the machines are small and shared
LISTEN_BACKLOG = 2048


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]

    def stderr_tail(self, chars: int = 2000) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-chars:]


def child_environment(
    extra: Mapping[str, str] | None = None, root: Path = REPO_ROOT
) -> dict[str, str]:
    """This environment without anything that would configure the servers behind our back,
    plus ``extra`` (e.g. ``BFF_*`` settings the caller passes on purpose)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BFF_", "SANDBOX_")) and name != "PYTHONASYNCIODEBUG"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def start_server(
    role: str,
    settings: dict[str, Any],
    max_seconds: float,
    *,
    sock: socket.socket | None = None,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
    root: Path = REPO_ROOT,
) -> Server:
    """Start ``role`` on ``sock`` (a fresh loopback port when None), from the source tree ``root``.

    ``settings`` get ``public_url`` set to the server's own URL unless they name one already.
    """
    if sock is None:
        sock = bind_ephemeral(LOOPBACK)
        # uvicorn's own default backlog: with 128, a burst of new connections overflows the
        # accept queue and the kernel drops SYNs, which clients see as 1 s and 3 s connect stalls.
        sock.listen(LISTEN_BACKLOG)
    url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    settings = {"public_url": url} | settings
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop_server
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            [
                sys.executable,
                "-m",
                "bench.server",
                role,
                "--fd",
                str(sock.fileno()),
                "--max-seconds",
                str(max_seconds),
            ],
            cwd=root,
            env=child_environment(env, root),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,  # the service's JSON access log: written, then dropped
            stderr=stderr,
            pass_fds=(sock.fileno(),),
        )
    finally:
        sock.close()  # the child holds its own copy; only it accepts
    assert process.stdin is not None
    process.stdin.write(json.dumps(settings).encode() + b"\n")
    process.stdin.flush()
    return Server(name or role, url, process, stderr)


def stop_server(server: Server) -> None:
    process = server.process
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()  # EOF: the server exits by itself
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    server.stderr.close()


def wait_until_up(server: Server, client: httpx.Client) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"the {server.name} exited at start:\n{server.stderr_tail()}")
        try:
            if client.get(server.url + HEALTH_PATH, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {server.name} did not start:\n{server.stderr_tail()}")
        time.sleep(0.05)


@contextlib.contextmanager
def own_redis(max_seconds: float) -> Iterator[str]:
    """A throwaway ``redis-server`` on a free loopback port, no persistence; its URL.

    Never the shared Redis on 6379: a benchmark may fill it, and other people's tests use it.
    """
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed: install it, or pass --redis-url")
    probe = bind_ephemeral(LOOPBACK)
    port = probe.getsockname()[1]
    probe.close()  # redis-server binds it itself; a race with another process is very unlikely
    process = subprocess.Popen(  # noqa: S603 - a fixed executable and arguments
        [
            executable,
            "--bind",
            LOOPBACK,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://{LOOPBACK}:{port}/0"
    try:
        deadline = time.monotonic() + min(STARTUP_SECONDS, max_seconds)
        while True:
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
