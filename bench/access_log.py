"""``python -m bench.access_log``: what the request id and the access log cost on a proxied read.

One process, no network: the real app from ``create_app`` is called as ASGI directly, its upstream
an ``httpx.MockTransport`` answering meetergo's example list at once, its logs configured as
``meetergo-bff serve`` configures them (JSON lines, the redacting filter) and written to
/dev/null. What is left is the service's own CPU per proxied read, which is what a profile of
the access-log path needs.

First it measures the access-log path alone: the service's request-id and observer middleware
(``RequestIdMiddleware(ObserverMiddleware(app))``, exactly as ``create_app`` stacks them) around
an app that answers 200 at once, ``--micro`` requests per round, median of ``--rounds`` rounds of
process CPU time. That is the path's whole cost per request: choosing the request id, the
metrics, building and writing the JSON access line. Then it profiles ``--profile-requests``
proxied reads through the whole app with cProfile and prints the top functions by own time, and
the share spent under the logging path (``logging``, ``json``, ``app/ops/logs.py``,
``app/ops/request_id.py``, ``app/ops/observe.py``).

The two middleware classes keep their constructors, so the same command measures an older
commit: run it on both and compare (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import os
import pstats
import secrets
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx

from app.config import Settings
from app.main import create_app
from app.ops.logs import configure_logging
from app.session.tickets import mint_ticket
from sandbox.seed import ALICE_ID, MEMBER_KEY

LIST_BODY = json.dumps(
    {"connections": [{"id": "5f0c7a3e-1d2b-4c8a-9e6f-000000000001", "provider": "google"}]}
).encode()
ORIGIN = "https://bff.bench"
LOGGING_PATHS = (
    "/logging/",
    "/json/",
    "app/ops/logs.py",
    "app/ops/request_id.py",
    "app/ops/observe.py",
)


def _upstream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=LIST_BODY, headers={"content-type": "application/json"})


class Asgi:
    """Calls an ASGI app in this loop, as uvicorn would, and keeps the answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def call(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bff.bench"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 443),
            "state": {},
        }
        sent = False
        answer: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = message["headers"]

        await self.app(scope, receive, send)
        return answer["status"], answer["headers"]


def _to_devnull() -> None:
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


def _settings(log_level: str, ticket_secret: str) -> Settings:
    return Settings(
        public_url=ORIGIN,
        meetergo_api_key=MEMBER_KEY,
        meetergo_base_url="https://meetergo.bench",
        session_keys=[secrets.token_urlsafe(32)],
        ticket_secret=ticket_secret,
        log_level=log_level,  # type: ignore[arg-type]
        upstream_retries=0,
        _env_file=None,  # type: ignore[call-arg]
    )


async def _session(asgi: Asgi, ticket_secret: str) -> list[tuple[bytes, bytes]]:
    ticket = mint_ticket(
        key=ticket_secret, algorithm="HS256", audience="meetergo-calendar-bff", sub="bench-user",
        meetergo_user_id=ALICE_ID,
    )  # fmt: skip
    guard = [(b"x-csrf", b"1"), (b"origin", ORIGIN.encode())]
    body = json.dumps({"ticket": ticket}).encode()
    length = str(len(body)).encode()
    status, headers = await asgi.call(
        "POST", "/auth/session",
        [*guard, (b"content-type", b"application/json"), (b"content-length", length)],
        body,
    )  # fmt: skip
    assert status == 200, status
    cookie = next(v for n, v in headers if n == b"set-cookie").split(b";", 1)[0]
    return [*guard, (b"cookie", cookie)]


async def _reads(
    level: str, requests: int, rounds_out: list[float], profile: cProfile.Profile | None
) -> None:
    ticket_secret = secrets.token_urlsafe(32)
    settings = _settings(level, ticket_secret)
    configure_logging(settings.log_level, settings.secret_values())
    _to_devnull()
    app = create_app(settings, upstream_transport=httpx.MockTransport(_upstream))
    async with app.router.lifespan_context(app):
        asgi = Asgi(app)
        headers = await _session(asgi, ticket_secret)
        path = "/api/v4/calendar-connections/connections"
        for _ in range(50):  # warm-up
            await asgi.call("GET", path, headers)
        if profile:
            profile.enable()
        started = time.process_time()  # CPU of the whole process: worker threads included
        for _ in range(requests):
            status, _ = await asgi.call("GET", path, headers)
            assert status == 200, status
        rounds_out.append((time.process_time() - started) / requests * 1e6)
        if profile:
            profile.disable()


async def _plain_ok(scope: Any, receive: Any, send: Any) -> None:
    scope["route"] = _ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


class _Route:
    path_format = "/api/v4/calendar-connections/connections"


_ROUTE = _Route()


async def _micro(requests: int) -> float:
    """Process CPU µs per request of the request-id and observer middleware around a 200."""
    from app.ops.metrics import Metrics  # noqa: PLC0415
    from app.ops.observe import ObserverMiddleware  # noqa: PLC0415
    from app.ops.request_id import RequestIdMiddleware  # noqa: PLC0415

    asgi = Asgi(RequestIdMiddleware(ObserverMiddleware(_plain_ok, metrics=Metrics())))  # type: ignore[arg-type]
    headers = [(b"x-csrf", b"1")]
    for _ in range(200):
        await asgi.call("GET", "/api/v4/calendar-connections/connections", headers)
    started = time.process_time()
    for _ in range(requests):
        await asgi.call("GET", "/api/v4/calendar-connections/connections", headers)
    return (time.process_time() - started) / requests * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.access_log", description=__doc__)
    parser.add_argument("--micro", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile-requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"command: {' '.join(['python', '-m', 'bench.access_log', *(argv or sys.argv[1:])])}")
    configure_logging("info", [MEMBER_KEY, secrets.token_urlsafe(32), secrets.token_urlsafe(32)])
    _to_devnull()
    micro = [asyncio.run(_micro(args.micro)) for _ in range(args.rounds)]
    rounds = ", ".join(f"{x:.1f}" for x in sorted(micro))
    print(
        "request id + observer + access line, per request: "
        f"median {statistics.median(micro):.1f} µs process CPU (rounds: {rounds})"
    )
    profile = cProfile.Profile(time.process_time)
    asyncio.run(_reads("info", args.profile_requests, [], profile))
    stats = pstats.Stats(profile, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    own = 0.0
    for (filename, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
        if any(part in filename.replace("\\", "/") for part in LOGGING_PATHS):
            own += row[2]
    print(
        f"\nprofile of {args.profile_requests} reads: {total:.2f} s; own time in the logging path "
        f"(logging, json, app/ops/logs.py, request_id.py, observe.py): {own / total:.1%}"
    )
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("\n".join(lines[start:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
