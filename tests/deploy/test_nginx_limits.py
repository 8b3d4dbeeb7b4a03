"""deploy/nginx.conf's edge limits, with the real nginx in front of the real service.

The file is used as docker-compose.yml uses it (included into nginx's ``http {}``), with two
substitutions only: the replicas' addresses become the one service on a loopback port, and the
listening port a free one. Each limit is checked over a socket.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, cannot_run
from tests.support.service_process import ServiceProcess, free_port, running_service

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
HEADER_TIMEOUT = 10.0  # client_header_timeout in deploy/nginx.conf
SLACK = 5.0


def _nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        cannot_run("nginx is not installed (scripts/install installs nginx-light)")
    return found


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with running_service(tmp_path_factory.mktemp("behind-nginx"), "http://127.0.0.1:9") as s:
        yield s


@pytest.fixture(scope="module")
def balancer(tmp_path_factory: pytest.TempPathFactory, service: ServiceProcess) -> Iterator[int]:
    binary = _nginx()
    root = tmp_path_factory.mktemp("nginx")
    port = free_port()
    site = NGINX_CONF.read_text(encoding="utf-8")
    site = re.sub(r"server bff-[ab]:8000", f"server 127.0.0.1:{service.port}", site)
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    (root / "site.conf").write_text(site, encoding="utf-8")
    (root / "nginx.conf").write_text(
        f"""
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/site.conf;
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [binary, "-p", str(root), "-c", str(root / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"nginx did not start: {stderr}")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def _exchange(port: int, request: bytes, timeout: float = 10) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(request)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


def _get(*headers: bytes) -> bytes:
    lines = [b"GET /healthz HTTP/1.1", b"Host: bff.test", *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_a_normal_request_passes_through_to_the_service(balancer: int) -> None:
    assert _exchange(balancer, _get(b"Cookie: a=" + b"x" * 4000)) == 200


@pytest.mark.parametrize(
    "headers",
    [[b"Cookie: a=" + b"x" * 100_000], [b"X-Big: " + b"y" * 20_000]],
    ids=["100-kb-cookie", "20-kb-header"],
)
def test_oversized_headers_are_refused_by_nginx(balancer: int, headers: list[bytes]) -> None:
    assert _exchange(balancer, _get(*headers)) in (400, 431, 494)


def test_a_body_over_the_limit_is_refused_by_nginx(balancer: int) -> None:
    request = (
        b"POST /auth/session HTTP/1.1\r\nHost: bff.test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 70000\r\nConnection: close\r\n\r\n"
    )
    assert _exchange(balancer, request) == 413


def test_a_client_that_stalls_its_headers_is_cut_off(balancer: int) -> None:
    with socket.create_connection(("127.0.0.1", balancer), timeout=HEADER_TIMEOUT + SLACK) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bff.test\r\nX-Slow: ")
        started = time.monotonic()
        try:
            with contextlib.suppress(ConnectionResetError):
                while sock.recv(65536):
                    pass
        except TimeoutError:
            pytest.fail("nginx held a stalled client past client_header_timeout")
        assert time.monotonic() - started < HEADER_TIMEOUT + SLACK
