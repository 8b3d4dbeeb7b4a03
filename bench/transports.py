"""The upstream client's cost per request: httpx as it is, httpx over aiohttp, raw aiohttp.

``python -m bench.transports [--requests N] [--rounds R] [--concurrency C]``

Each variant sends ``GET /v4/calendar-connections/connections`` to nginx serving meetergo's example
answer (``bench.nginx``), over kept-alive connections, in interleaved rounds (A B C, then C B A,
...), from one uvloop event loop. What differs is only the client stack, so the difference in
median latency and in CPU time per request is the client's own cost:

- **httpx**: ``httpx.AsyncClient`` on its default transport (httpcore), as the service used it;
- **httpx-aiohttp**: the same ``httpx.AsyncClient`` API on
  :func:`app.upstream.client.aiohttp_transport`
  (the service's transport since issue 11: httpx-aiohttp's ``AiohttpTransport`` over an aiohttp
  session without cookies);
- **aiohttp**: a raw ``aiohttp.ClientSession``: the floor for any httpx-compatible layer on top.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import httpx
import uvloop

from app.upstream.client import aiohttp_transport
from bench.nginx import LIST_PATH, running_nginx

Send = Callable[[], Awaitable[None]]


async def _measure(send: Send, requests: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await send()
            latencies.append(time.perf_counter() - started)

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.process_time() - cpu


async def run(
    base_url: str, requests: int, rounds: int, concurrency: int
) -> dict[str, dict[str, float]]:
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20, keepalive_expiry=4.0)
    plain = httpx.AsyncClient(base_url=base_url, limits=limits, trust_env=False)
    over_aiohttp = httpx.AsyncClient(
        base_url=base_url, limits=limits, trust_env=False, transport=aiohttp_transport(limits)
    )
    session = aiohttp.ClientSession(
        base_url=base_url, connector=aiohttp.TCPConnector(limit=20, keepalive_timeout=4.0)
    )

    async def send_httpx(client: httpx.AsyncClient) -> None:
        response = await client.get(LIST_PATH)
        if response.status_code != 200 or not response.content:
            raise RuntimeError(f"{response.status_code}")

    async def send_aiohttp() -> None:
        async with session.get(LIST_PATH) as response:
            body = await response.read()
            if response.status != 200 or not body:
                raise RuntimeError(f"{response.status}")

    variants: dict[str, Send] = {
        "httpx": lambda: send_httpx(plain),
        "httpx-aiohttp": lambda: send_httpx(over_aiohttp),
        "aiohttp": send_aiohttp,
    }
    latencies: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, float] = dict.fromkeys(variants, 0.0)
    try:
        for send in variants.values():  # warm-up: connections open, code paths hot
            await _measure(send, 200, concurrency)
        order = list(variants)
        for round_number in range(rounds):
            for name in order if round_number % 2 == 0 else reversed(order):
                found, spent = await _measure(variants[name], requests, concurrency)
                latencies[name] += found
                cpu[name] += spent
    finally:
        await plain.aclose()
        await over_aiohttp.aclose()
        await session.close()
    total = requests * rounds
    return {
        name: {
            "median_ms": statistics.median(values) * 1000,
            "p99_ms": statistics.quantiles(values, n=100)[98] * 1000,
            "cpu_us_per_request": cpu[name] / total * 1e6,
        }
        for name, values in latencies.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transports", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args(argv)
    # SIGTERM as an exception, so that what this process started (nginx) is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with running_nginx() as nginx:
        results = uvloop.run(run(nginx.upstream_url, args.requests, args.rounds, args.concurrency))
    base = results["httpx"]
    print(f"{'variant':<15}{'median ms':>10}{'p99 ms':>10}{'CPU us/req':>12}{'CPU vs httpx':>14}")
    for name, row in results.items():
        ratio = row["cpu_us_per_request"] / base["cpu_us_per_request"]
        print(
            f"{name:<15}{row['median_ms']:>10.3f}{row['p99_ms']:>10.3f}"
            f"{row['cpu_us_per_request']:>12.0f}{ratio:>13.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
