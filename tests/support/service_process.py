"""The real ``meetergo-bff serve`` in a subprocess on a free loopback port, its output in a file.

What the container's CMD runs, server and logging configuration included: the tests of the HTTP
edge and of the log promise talk to it over sockets and read every line it wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.settings import API_KEY, MANAGEMENT_TOKEN, SESSION_KEY, TICKET_SECRET

START_SECONDS = 20.0


@dataclass
class ServiceProcess:
    host: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        """Every line the process wrote, each parsed as JSON (a line that is not fails the test)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command() -> list[str]:
    script = Path(sys.executable).with_name("meetergo-bff")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "app.cli"]  # pragma: no cover - the installed script is usual


@contextlib.contextmanager
def running_service(
    tmp_path: Path, meetergo_base_url: str, **settings: str
) -> Iterator[ServiceProcess]:
    """``meetergo-bff serve`` with test settings plus ``settings`` (``BFF_*`` names), until done."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BFF_")}
    environment.update(
        {
            "BFF_PUBLIC_URL": "https://bff.test",
            "BFF_MEETERGO_API_KEY": API_KEY,
            "BFF_MEETERGO_BASE_URL": meetergo_base_url,
            "BFF_SESSION_KEYS": SESSION_KEY,
            "BFF_TICKET_SECRET": TICKET_SECRET,
            "BFF_MANAGEMENT_TOKEN": MANAGEMENT_TOKEN,
            "BFF_SHUTDOWN_DRAIN_SECONDS": "0",
            "BFF_SHUTDOWN_GRACE_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
    )
    port = free_port()
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,  # no .env file there
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = ServiceProcess("127.0.0.1", port, log_path, process)
    try:
        _wait_until_up(service)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if shutdown hangs
            process.kill()
            process.wait(timeout=5)


def _wait_until_up(service: ServiceProcess) -> None:
    deadline = time.monotonic() + START_SECONDS
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(f"meetergo-bff serve exited:\n{service.log_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{service.url}/healthz").status_code == 200:
                    return
            time.sleep(0.05)
    raise RuntimeError(f"meetergo-bff serve did not start:\n{service.log_text()[-3000:]}")
