"""nginx from Debian as the benchmark's fast upstream, and as the reference reverse proxy.

One nginx process tree (one worker), started from a configuration written to a temporary
directory, listening on two loopback ports:

- **upstream**: serves meetergo's example answer for ``GET /v4/calendar-connections/connections``
  from a file (the table's ``response_example``), about as fast as an HTTP server answers;
- **proxy**: ``proxy_pass`` to the upstream over kept-alive connections, injecting the two headers
  this service injects (``Authorization`` and ``x-meetergo-api-user-id``): the floor for what any
  reverse proxy adds.

:func:`ensure_tools` installs nginx and wrk with apt-get when they are missing (root on Debian).
:func:`running_nginx` stops what it started (the master process it spawned, by its pid).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.upstream.table import ROUTES_BY_ID, UPSTREAM_BASE_PATH

LOOPBACK = "127.0.0.1"
LIST_PATH = UPSTREAM_BASE_PATH + "/connections"
# Debian package per command.
TOOLS = {"nginx": "nginx-light", "wrk": "wrk"}


def ensure_tools(*commands: str) -> None:
    """Install the Debian packages for ``commands`` that are not on PATH (root only)."""
    missing = [TOOLS[name] for name in commands if _which(name) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(f"missing {missing}: install them (Debian: apt-get install {missing})")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:  # noqa: S603
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=True)  # noqa: S607
        subprocess.run(install, env=env, capture_output=True, check=True)  # noqa: S603


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def free_port() -> int:
    """A port the kernel just had free (nginx binds it itself: a short race, on loopback)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def example_body() -> bytes:
    example = ROUTES_BY_ID["listConnections"].response_example
    return json.dumps(example, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Nginx:
    upstream_url: str
    proxy_url: str
    pid: int


_CONFIG = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
daemon off;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
    upstream meetergo {{ server {loopback}:{upstream_port}; keepalive 64; }}
    server {{
        listen {loopback}:{upstream_port};
        location = {list_path} {{
            default_type application/json;
            alias {root}/connections.json;
        }}
    }}
    server {{
        listen {loopback}:{proxy_port};
        location /api/ {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Cookie "";
            proxy_set_header Authorization "Bearer bench-key";
            proxy_set_header x-meetergo-api-user-id "bench-user";
            proxy_pass http://meetergo/;
        }}
    }}
}}
"""


@contextlib.contextmanager
def running_nginx() -> Iterator[Nginx]:
    """nginx on two free loopback ports until the block ends; then stopped (its own pid)."""
    ensure_tools("nginx")
    binary = _which("nginx")
    assert binary is not None
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx's workers drop root privileges and must read the file
        (root / "connections.json").write_bytes(example_body())
        upstream_port, proxy_port = free_port(), free_port()
        config = _CONFIG.format(
            root=root,
            loopback=LOOPBACK,
            upstream_port=upstream_port,
            proxy_port=proxy_port,
            list_path=LIST_PATH,
            user="user root;" if os.geteuid() == 0 else "",
        )
        (root / "nginx.conf").write_text(config, encoding="utf-8")
        process = subprocess.Popen(  # noqa: S603 - Debian's nginx, our config
            [binary, "-p", str(root), "-c", str(root / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for_port(process, upstream_port, root)
            _wait_for_port(process, proxy_port, root)
            yield Nginx(
                upstream_url=f"http://{LOOPBACK}:{upstream_port}",
                proxy_url=f"http://{LOOPBACK}:{proxy_port}/api",
                pid=process.pid,
            )
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGQUIT)  # graceful stop of the master we started
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            if process.stderr is not None:
                process.stderr.close()


def _wait_for_port(process: subprocess.Popen[bytes], port: int, root: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error_log = root / "error.log"
            log = error_log.read_text(errors="replace") if error_log.exists() else ""
            raise RuntimeError(f"nginx exited at start: {log[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nginx did not listen on {port}")
