"""Load for the hot-path benchmark: wrk for throughput, an open-loop generator for latency.

**wrk** (Debian's) is a closed loop: ``connections`` clients each send the next request when the
last one is answered, as fast as the server allows. Its requests per second is the throughput.

**open_loop** sends requests at a constant rate whatever the server does, the way independent
users arrive: request *i* is due at ``start + i / rate``, and its latency is counted from that
moment, not from when a free connection let it out (so a server that stalls is charged for the
queue it causes: no coordinated omission). Raw HTTP/1.1 over asyncio streams, on a pool of
kept-alive connections that grows when every connection is busy, up to ``connections`` (as a
load balancer in front of the service would hold; a request waits for a free one, its clock
running); each request has a deadline after which it counts as unanswered. Optionally a share
of the clients hang up before the answer (``disconnect_share``), as impatient browsers do: those
count apart, neither answered nor late.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_CONNECTIONS = 256


@dataclass
class OpenLoopResult:
    rate: float
    seconds: float
    sent: int = 0
    latencies_s: list[float] = field(default_factory=list)  # answered requests
    statuses: Counter[int] = field(default_factory=Counter)
    late: int = 0  # no answer within the deadline
    errors: int = 0  # connection refused, reset before an answer, malformed answer
    hung_up: int = 0  # the client closed on purpose before the answer
    send_lag_s: list[float] = field(default_factory=list)  # how late the generator itself was

    def percentile_ms(self, q: float) -> float | None:
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        rank = q * (len(ordered) - 1)
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return (ordered[low] + (ordered[high] - ordered[low]) * (rank - low)) * 1000

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, object]:
        lag = sorted(self.send_lag_s)
        return {
            "rate": self.rate,
            "achieved_rate": round(self.achieved_rate, 1),
            "sent": self.sent,
            "answered": len(self.latencies_s),
            "statuses": dict(sorted(self.statuses.items())),
            "late": self.late,
            "errors": self.errors,
            "hung_up": self.hung_up,
            "p50_ms": self.percentile_ms(0.5),
            "p90_ms": self.percentile_ms(0.9),
            "p99_ms": self.percentile_ms(0.99),
            "max_ms": self.percentile_ms(1.0),
            "generator_lag_p99_ms": lag[int(0.99 * (len(lag) - 1))] * 1000 if lag else None,
        }


def _request_bytes(url: str, headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode()


_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """One request on a kept-alive connection: its status, and whether the connection stays."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    found = _LENGTH.search(head)
    if found is None:
        raise ValueError("answer without Content-Length")
    await reader.readexactly(int(found.group(1)))
    return status, b"connection: close" not in head.lower()


async def open_loop(  # noqa: PLR0915 - one generator, read top to bottom
    url: str,
    headers: dict[str, str],
    *,
    rate: float,
    seconds: float,
    deadline: float = 2.0,
    disconnect_share: float = 0.0,
    seed: int = 11,
    connections: int = MAX_CONNECTIONS,
) -> OpenLoopResult:
    """``rate`` GETs of ``url`` per second for ``seconds``; see the module's docstring."""
    host, port, request = _request_bytes(url, headers)
    rng = random.Random(seed)
    result = OpenLoopResult(rate=rate, seconds=seconds)
    Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]  # noqa: N806
    idle: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()
    opened = 0
    in_flight: set[asyncio.Task[None]] = set()

    async def acquire() -> Connection:
        nonlocal opened
        if not idle.empty():
            return idle.get_nowait()
        if opened < connections:
            opened += 1
            try:
                return await asyncio.open_connection(host, port)
            except BaseException:
                opened -= 1
                raise
        return await idle.get()

    def discard(connection: Connection) -> None:
        nonlocal opened
        opened -= 1
        connection[1].close()

    async def one(due: float, hang_up_after: float | None) -> None:
        connection = None
        try:
            async with asyncio.timeout(deadline):
                connection = await acquire()
                reader, writer = connection
                if hang_up_after is not None:
                    writer.write(request)
                    await asyncio.sleep(hang_up_after)
                    result.hung_up += 1
                    return  # the connection is closed below, its answer never read
                status, reusable = await _exchange(reader, writer, request)
            result.latencies_s.append(time.perf_counter() - due)
            result.statuses[status] += 1
            if reusable:
                idle.put_nowait(connection)
                connection = None
        except TimeoutError:
            result.late += 1
        except (OSError, ValueError, asyncio.IncompleteReadError):
            result.errors += 1
        finally:
            if connection is not None:
                discard(connection)

    start = time.perf_counter()
    interval = 1.0 / rate
    total = int(rate * seconds)
    for index in range(total):
        due = start + index * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.send_lag_s.append(max(0.0, time.perf_counter() - due))
        hang_up = rng.uniform(0.005, 0.05) if rng.random() < disconnect_share else None
        task = asyncio.create_task(one(due, hang_up))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        result.sent += 1
    if in_flight:
        await asyncio.wait(in_flight)
    while not idle.empty():
        idle.get_nowait()[1].close()
    with contextlib.suppress(Exception):
        await asyncio.sleep(0)
    return result


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    requests: int
    non_2xx: int
    socket_errors: int
    latency_p50_ms: float | None
    timeouts: int = 0  # requests with no answer within --timeout (counted in socket_errors too)
    latency_p99_ms: float | None = None
    max_ms: float | None = None

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def wrk(
    url: str,
    headers: dict[str, str],
    *,
    seconds: int,
    connections: int = 32,
    threads: int = 1,
    timeout: float | None = None,
) -> WrkResult:
    """Debian's wrk against ``url``: closed loop, ``connections`` kept-alive connections.

    With ``timeout``, a request not answered within it counts in ``timeouts``.
    """
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    command = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if timeout is not None:
        command.append(f"--timeout={max(1, round(timeout))}s")
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(  # noqa: S603 - Debian's wrk, our arguments
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    return _parse_wrk(done.stdout)


def _parse_wrk(output: str) -> WrkResult:
    def number(pattern: str) -> float | None:
        found = re.search(pattern, output)
        return float(found.group(1)) if found else None

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = sum(int(value) for value in errors.groups()) if errors else 0

    def latency(pattern: str) -> float | None:
        found = re.search(pattern + r"\s+([\d.]+)(us|ms|s)\b", output)
        if found is None:
            return None
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    rps = number(r"Requests/sec:\s+([\d.]+)")
    requests = number(r"(\d+) requests in")
    if rps is None or requests is None:
        raise RuntimeError(f"unreadable wrk output:\n{output}")
    return WrkResult(
        requests_per_second=rps,
        requests=int(requests),
        non_2xx=int(number(r"Non-2xx or 3xx responses: (\d+)") or 0),
        socket_errors=socket_errors,
        latency_p50_ms=latency(r"50%"),
        timeouts=int(errors.group(4)) if errors else 0,
        latency_p99_ms=latency(r"99%"),
        max_ms=latency(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+"),
    )
