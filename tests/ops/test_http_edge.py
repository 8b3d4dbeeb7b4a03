"""The HTTP edge of ``meetergo-bff serve`` (the container's CMD), over real sockets.

Header size and count, header and body read deadlines, the connection cap, and a normal request
served within a second while 300 slow clients hold connections. Every loop is bounded in count
and time; every socket is closed by the test.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service_process import ServiceProcess, running_service

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
SLACK = 4.0  # a busy shared machine: the deadline plus this is when a slow client must be gone
SLOW_CLIENTS = 300


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with running_service(
        tmp_path_factory.mktemp("edge"),
        "http://127.0.0.1:9",  # never called by these tests
        BFF_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        BFF_BODY_TIMEOUT=str(BODY_TIMEOUT),
        BFF_MAX_CONNECTIONS="400",
        # What is measured here is the edge's limits, not the overload shedding, which would
        # answer 503 whenever the shared machine stalls the event loop for half a second.
        BFF_MAX_LOOP_LAG="10",
    ) as process:
        yield process


def _connect(service: ServiceProcess) -> socket.socket:
    return socket.create_connection((service.host, service.port), timeout=10)


def _exchange(service: ServiceProcess, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` on a new connection; the status and body of the answer (until EOF)."""
    with _connect(service) as sock:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(request)
        return _read_answer(sock)


def _read_answer(sock: socket.socket) -> tuple[int, bytes]:
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        return 0, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _get(path: str, *headers: bytes) -> bytes:
    lines = [f"GET {path} HTTP/1.1".encode(), b"Host: bff.test", *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _code(body: bytes) -> str:
    code: str = json.loads(body)["code"]
    return code


# -- header size and count -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [b"Cookie: a=" + b"x" * 100_000],
        [b"X-Big: " + b"y" * 20_000],
        [f"X-H{i}: v".encode() for i in range(200)],
        [b"X-Many: " + b"z" * 150 for _ in range(120)],
    ],
    ids=["100-kb-cookie", "20-kb-header", "200-headers", "18-kb-in-120-headers"],
)
def test_oversized_or_too_many_headers_are_431_problem_json(
    service: ServiceProcess, headers: list[bytes]
) -> None:
    status, body = _exchange(service, _get("/healthz", *headers))

    assert status == 431, body
    assert _code(body) == "request_headers_too_large"


def test_a_long_url_counts_against_the_header_limit(service: ServiceProcess) -> None:
    status, body = _exchange(service, _get("/healthz?x=" + "a" * 20_000))

    assert status == 431
    assert _code(body) == "request_headers_too_large"


def test_headers_within_the_limits_are_served(service: ServiceProcess) -> None:
    headers = [b"Cookie: a=" + b"x" * 8000, *[f"X-H{i}: v".encode() for i in range(60)]]

    status, body = _exchange(service, _get("/healthz", *headers))

    assert status == 200, body


def test_a_malformed_request_line_is_400_problem_json(service: ServiceProcess) -> None:
    status, body = _exchange(service, b"GET /healthz HTTP/1.1 extra\r\n\r\n")

    assert status == 400
    assert _code(body) == "malformed_request"


# -- slow clients --------------------------------------------------------------------------------


def _half_header(service: ServiceProcess) -> socket.socket:
    sock = _connect(service)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bff.test\r\nX-Slow: ")
    return sock


def _body_one_byte_short(service: ServiceProcess) -> socket.socket:
    sock = _connect(service)
    body = b'{"ticket": "' + b"a" * 40 + b'"}'
    sock.sendall(
        b"POST /auth/session HTTP/1.1\r\nHost: bff.test\r\nX-CSRF: 1\r\n"
        b"Origin: https://bff.test\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:-1]
    )
    return sock


def _normal_request_seconds(service: ServiceProcess) -> float:
    started = time.monotonic()
    status, _ = _exchange(service, _get("/healthz"))
    assert status == 200
    return time.monotonic() - started


def test_300_slow_clients_do_not_delay_a_normal_request_and_are_cut_off(
    service: ServiceProcess,
) -> None:
    slow: list[tuple[str, socket.socket]] = []
    try:
        for index in range(SLOW_CLIENTS):
            if index % 2:
                slow.append(("header", _half_header(service)))
            else:
                slow.append(("body", _body_one_byte_short(service)))
        opened = time.monotonic()

        # Served while all 300 are connected and stalled. The median must be under a second; one
        # outlier up to 2 s is the shared 2-core machine (the same outliers show without any
        # slow client), not the service.
        timings = sorted(_normal_request_seconds(service) for _ in range(5))
        assert timings[2] < 1.0, timings
        assert timings[-1] < 2.0, timings

        # Each slow client is answered or dropped within its deadline, none is held.
        for kind, sock in slow:
            left = opened + max(HEADER_TIMEOUT, BODY_TIMEOUT) + SLACK - time.monotonic()
            sock.settimeout(max(left, 0.1))
            try:
                status, body = _read_answer(sock)
            except TimeoutError:
                pytest.fail(f"a slow client ({kind}) was still connected after its deadline")
            if kind == "header":
                assert status == 408, (status, body)
                assert _code(body) == "request_timeout"
            else:
                assert status == 0, (status, body)  # closed: the application saw a client leave
    finally:
        for _, sock in slow:
            sock.close()
    assert _normal_request_seconds(service) < 1.0


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    service: ServiceProcess,
) -> None:
    with _connect(service) as sock:
        sock.settimeout(HEADER_TIMEOUT + SLACK)
        status, body = _read_answer(sock)
    assert status == 408
    assert _code(body) == "request_timeout"


def test_a_body_cut_short_is_logged_as_a_client_that_left_not_as_an_error(
    service: ServiceProcess,
) -> None:
    with _body_one_byte_short(service) as sock:
        sock.settimeout(BODY_TIMEOUT + SLACK)
        assert _read_answer(sock) == (0, b"")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        records = service.log_records()
        if any(r.get("status") == 499 for r in records):
            break
        time.sleep(0.1)
    records = service.log_records()
    assert any(r.get("route") == "/auth/session" and r.get("status") == 499 for r in records)
    assert not [r for r in records if r["level"] == "error"], records
    assert not [r for r in records if "unhandled" in r["message"]]


# -- the connection cap --------------------------------------------------------------------------


def test_connections_beyond_the_cap_are_answered_503_and_the_rest_served(
    tmp_path: Path,
) -> None:
    with running_service(
        tmp_path, "http://127.0.0.1:9", BFF_MAX_CONNECTIONS="20", BFF_HEADER_TIMEOUT="30"
    ) as capped:
        idle = [_connect(capped) for _ in range(20)]
        try:
            time.sleep(0.3)  # let the server accept them all
            status, body = _exchange(capped, _get("/healthz"))
            assert status == 503, body
            assert _code(body) == "too_many_connections"
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 5
        status = 0
        while status != 200 and time.monotonic() < deadline:
            status, _ = _exchange(capped, _get("/healthz"))
        assert status == 200


def test_a_body_left_trickling_after_an_early_answer_is_cut_off(service: ServiceProcess) -> None:
    # 413 is answered from the headers alone; the client then sends its body a byte at a time.
    with _connect(service) as sock:
        sock.sendall(
            b"POST /auth/session HTTP/1.1\r\nHost: bff.test\r\nX-CSRF: 1\r\n"
            b"Origin: https://bff.test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        sock.settimeout(0.5)
        started = time.monotonic()
        answer = b""
        closed = False
        while time.monotonic() - started < BODY_TIMEOUT + SLACK:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"x")
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert closed, "a trickling body kept the connection open past the body deadline"
