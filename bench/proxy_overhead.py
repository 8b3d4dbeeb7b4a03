"""What the service adds to a calendar read, measured side by side with meetergo (the sandbox).

``python -m bench.proxy_overhead [--requests N] [--rounds R] [--concurrency C] [--json PATH]``

Three variants, measured in the same run, in interleaved rounds (A B C, then C B A, ...), so that
whatever else the shared machine does at a given moment lands on every variant alike:

- **A direct**: ``GET /v4/calendar-connections/connections`` straight to the sandbox, with the
  member key and Alice's ``x-meetergo-api-user-id`` header, as the service itself would call it.
- **B service**: ``GET /api/v4/calendar-connections/connections`` through the service, with the
  session cookie and ``X-CSRF: 1``: session check, CSRF check, allowlist, the upstream call to the
  same sandbox (the A work), and the answer passed back.
- **C healthz**: ``GET /healthz`` on the service: its floor (uvicorn, the middleware stack, one
  trivial route), touching neither the session nor the sandbox.

B/A is the headline: how many times a direct read the proxied read takes. B-C is roughly what the
service does around the upstream call besides serving any request at all.

Why separate processes. The client, the sandbox and the service each run in their own process
(``python -m bench.server``, started with :mod:`subprocess`), never as threads of one interpreter:
threads would share one GIL, so the client's own Python work would queue behind the servers' and
the proxied path (two servers in one call) would be penalised twice. Separate processes are also
how the service runs in production (``meetergo-bff serve``: uvloop, httptools, JSON access log).
Plain :mod:`subprocess` rather than :mod:`multiprocessing`: the listening sockets are bound here
first (the service's settings must name its own URL and the sandbox's) and handed over with
``pass_fds``; each server reads its settings as one JSON line on stdin and exits on EOF there, so
the servers end with this process however it ends, and after a hard time limit in any case.

Bounds: at most ``--requests`` per variant and round, at most ``--rounds`` rounds, and a wall-clock
budget ``--max-seconds`` for warm-up and measurement together (the rounds completed by then are
reported, marked truncated; a round cut short is dropped whole, so that no variant gets more of the
quiet or the noisy moments); every request has a 10 s timeout; after ``MAX_ERRORS`` failed requests
the run stops. Only 127.0.0.1 is ever contacted.

The machine has few cores (2 in CI): client and two servers compete for them, so absolute numbers
mean little. Read the ratios, and compare runs of this same command only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from app.session.cookie import SECURE_NAME
from app.session.tickets import mint_ticket
from sandbox.seed import ALICE_ID, MEMBER_KEY
from tests.support.servers import bind_ephemeral

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
UPSTREAM_PATH = "/v4/calendar-connections/connections"
SERVICE_PATH = "/api" + UPSTREAM_PATH
HEALTH_PATH = "/healthz"
AUDIENCE = "meetergo-calendar-bff"

REQUEST_TIMEOUT = 10.0
LISTEN_BACKLOG = 2048
STARTUP_SECONDS = 30.0
MAX_ERRORS = 50
LIMITS = {
    "requests": (1, 100_000),
    "rounds": (1, 50),
    "concurrency": (1, 64),
    "warmup": (0, 10_000),
    "max_seconds": (1.0, 1800.0),
}


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    what: str


VARIANTS = (
    Variant("direct", "A", f"GET {UPSTREAM_PATH} on the sandbox"),
    Variant("service", "B", f"GET {SERVICE_PATH} on the service"),
    Variant("healthz", "C", f"GET {HEALTH_PATH} on the service"),
)


# -- the servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]

    def stderr_tail(self, chars: int = 2000) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-chars:]


def _child_environment(
    extra: dict[str, str] | None = None, root: Path = REPO_ROOT
) -> dict[str, str]:
    """This environment without anything that would configure the servers behind our back.

    ``extra`` is put back on purpose (``BFF_...`` settings a benchmark wants the service to have).
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BFF_", "SANDBOX_")) and name != "PYTHONASYNCIODEBUG"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env | (extra or {})


def _start_server(
    role: str,
    settings: dict[str, Any],
    max_seconds: float,
    env: dict[str, str] | None = None,
    root: Path = REPO_ROOT,
) -> Server:
    """``role`` served by ``python -m bench.server`` from the source tree ``root``."""
    sock = bind_ephemeral(LOOPBACK)
    # uvicorn's own default backlog: with 128, a burst of new connections overflows the accept
    # queue and the kernel drops SYNs, which clients see as 1 s and 3 s connect stalls.
    sock.listen(LISTEN_BACKLOG)
    url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    settings = settings | {"public_url": url}  # both name their own URL: authUrls, origins
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _stop_server
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
            env=_child_environment(env, root),
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
    return Server(role, url, process, stderr)


def _stop_server(server: Server) -> None:
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


def _wait_until_up(server: Server, client: httpx.Client) -> None:
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


@dataclass(frozen=True)
class Stack:
    sandbox: Server
    service: Server
    ticket_secret: str


def sandbox_settings() -> dict[str, Any]:
    # The sandbox's token bucket (100/min by default) would answer 429 within a second.
    return {"rate_limit_per_minute": 1e9, "rate_limit_burst": 1_000_000_000}


def service_settings(
    sandbox_url: str, *, concurrency: int, log_level: str, ticket_secret: str
) -> dict[str, Any]:
    return {
        "environment": "development",  # plain http on loopback
        "meetergo_api_key": MEMBER_KEY,
        "meetergo_base_url": sandbox_url,
        "session_keys": [secrets.token_urlsafe(32)],
        "ticket_secret": ticket_secret,
        "log_level": log_level,
        # Sane deadlines for a loopback upstream, and no retries: a failure must show as an error,
        # not as a silently slower request.
        "upstream_connect_timeout": 2.0,
        "upstream_read_timeout": 5.0,
        "upstream_write_timeout": 5.0,
        "upstream_pool_timeout": 2.0,
        "upstream_deadline": 10.0,
        "upstream_retries": 0,
        # The defaults (20 connections, 10 kept alive) unless the client needs more, so that a high
        # --concurrency measures the proxy, not reconnects to the upstream.
        "upstream_max_connections": max(20, concurrency),
        "upstream_max_keepalive": max(10, concurrency),
        "shutdown_drain_seconds": 0,
        "shutdown_grace_seconds": 1,
    }


@contextlib.contextmanager
def running_stack(*, concurrency: int, log_level: str, max_seconds: float) -> Iterator[Stack]:
    """The sandbox and the service, each in its own process, both up and answering."""
    lifetime = max_seconds + 120  # the children's own hard limit: measurement plus set-up
    started: list[Server] = []
    try:
        sandbox = _start_server("sandbox", sandbox_settings(), lifetime)
        started.append(sandbox)
        ticket_secret = secrets.token_urlsafe(32)
        settings = service_settings(
            sandbox.url, concurrency=concurrency, log_level=log_level, ticket_secret=ticket_secret
        )
        service = _start_server("service", settings, lifetime)
        started.append(service)
        with httpx.Client(trust_env=False) as probe:
            _wait_until_up(sandbox, probe)
            _wait_until_up(service, probe)
        yield Stack(sandbox, service, ticket_secret)
    finally:
        for server in reversed(started):
            _stop_server(server)


# -- set-up: one connection for Alice, one session -----------------------------------------------


def _loopback_only(url: str) -> str:
    host = urlsplit(url).hostname
    if host not in (LOOPBACK, "localhost"):
        raise RuntimeError(f"refusing to leave loopback: {url}")
    return url


def connect_alice(sandbox_url: str) -> str:
    """One calendar connection for Alice, through the sandbox's consent round trip; its id."""
    member = {"Authorization": f"Bearer {MEMBER_KEY}", "x-meetergo-api-user-id": ALICE_ID}
    with httpx.Client(base_url=sandbox_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        started = client.get(
            "/v4/calendar-connections/auth/google/url",
            params={"redirectUrl": "https://app.invalid/done"},  # never followed
            headers=member,
        )
        started.raise_for_status()
        auth_url = _loopback_only(started.json()["authUrl"])
        client.get(auth_url).raise_for_status()
        parts = urlsplit(auth_url)
        state = dict(parse_qsl(parts.query))["state"]
        form = {"state": state, "email": "alice@calendar.example", "scope": "calendar"}
        answered = client.post(parts.path, data=form | {"decision": "allow"})
        if answered.status_code != 303:
            raise RuntimeError(f"consent: {answered.status_code} {answered.text}")
        callback = client.get(_loopback_only(str(answered.url.join(answered.headers["location"]))))
        if callback.status_code != 302:
            raise RuntimeError(f"consent callback: {callback.status_code} {callback.text}")
        result = dict(parse_qsl(urlsplit(callback.headers["location"]).query))
        if result.get("success") != "true":
            raise RuntimeError(f"consent failed: {result}")
        return result["connectionId"]


def session_cookie(response: httpx.Response) -> str | None:
    """The session cookie's value from a Set-Cookie of ``response``, if it sets one."""
    for header in response.headers.get_list("set-cookie"):
        pair, _, _ = header.partition(";")
        name, _, value = pair.partition("=")
        if name.strip() == SECURE_NAME and value:
            return value
    return None


def sign_in(service_url: str, ticket_secret: str) -> str:
    """A session for Alice from a login ticket; the session cookie's value.

    Python clients send ``Secure`` cookies over https only, so the benchmark sends the Cookie
    header itself, as a browser would on the https deployment.
    """
    ticket = mint_ticket(
        key=ticket_secret,
        algorithm="HS256",
        audience=AUDIENCE,
        sub="bench-alice",
        name="Alice",
        meetergo_user_id=ALICE_ID,
    )
    with httpx.Client(base_url=service_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        response = client.post(
            "/auth/session",
            json={"ticket": ticket},
            headers={"X-CSRF": "1", "Origin": service_url},
        )
    if response.status_code != 200:
        raise RuntimeError(f"login: {response.status_code} {response.text}")
    cookie = session_cookie(response)
    if cookie is None:
        raise RuntimeError("login set no session cookie")
    return cookie


# -- measuring -----------------------------------------------------------------------------------


def _no_cookie_jar() -> CookieJar:
    # The benchmark sends the Cookie header itself; httpx must not keep or add any.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _client(base_url: str, concurrency: int, headers: dict[str, str]) -> httpx.AsyncClient:
    """Keep-alive, one pooled connection per concurrent worker, no proxies from the environment."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        base_url=_loopback_only(base_url),
        headers=headers,
        cookies=_no_cookie_jar(),
        limits=limits,
        timeout=REQUEST_TIMEOUT,
        trust_env=False,
        follow_redirects=False,
    )


Send = Callable[[], Awaitable[bool]]


def _sender(client: httpx.AsyncClient, path: str, *, follow_cookie: bool = False) -> Send:
    async def send() -> bool:
        response = await client.get(path)
        if follow_cookie and "set-cookie" in response.headers:
            # The sliding session re-issues the cookie at most once a minute: keep the new one,
            # as a browser would, or every later call would pay for signing a fresh one.
            fresh = session_cookie(response)
            if fresh:
                client.headers["Cookie"] = f"{SECURE_NAME}={fresh}"
        return response.status_code == 200

    return send


@dataclass
class Batch:
    latencies_ns: list[int]
    errors: int
    elapsed_s: float
    first_error: str | None

    def finished(self, requests: int) -> bool:
        """Every planned request was sent, none cut by the deadline or the error limit."""
        return len(self.latencies_ns) + self.errors == requests and self.errors < MAX_ERRORS


async def run_batch(send: Send, requests: int, concurrency: int, deadline: float) -> Batch:
    """``requests`` calls by ``concurrency`` workers, each latency on its own; stops at deadline."""
    latencies: list[int] = []
    issued = 0
    errors = 0
    first_error: str | None = None

    async def worker() -> None:
        nonlocal issued, errors, first_error
        while issued < requests and errors < MAX_ERRORS and time.monotonic() < deadline:
            issued += 1
            started = time.perf_counter_ns()
            try:
                ok = await send()
                problem = None if ok else "a status other than 200"
            except httpx.HTTPError as exc:
                ok, problem = False, f"{type(exc).__name__}: {exc}"
            took = time.perf_counter_ns() - started
            if ok:
                latencies.append(took)
            else:
                errors += 1
                first_error = first_error or problem

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Batch(latencies, errors, time.perf_counter() - began, first_error)


@dataclass
class Tally:
    """Everything measured for one variant, across rounds."""

    latencies_ns: list[int] = field(default_factory=list)
    round_medians_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    first_error: str | None = None

    def add(self, batch: Batch) -> None:
        self.latencies_ns += batch.latencies_ns
        if batch.latencies_ns:
            self.round_medians_ms.append(percentile(sorted(batch.latencies_ns), 50) / 1e6)
        self.elapsed_s += batch.elapsed_s
        self.note_errors(batch)

    def note_errors(self, batch: Batch) -> None:
        self.errors += batch.errors
        self.first_error = self.first_error or batch.first_error


def round_order(round_index: int) -> tuple[Variant, ...]:
    """A B C, then C B A, and so on: A runs before B as often as after it."""
    return VARIANTS if round_index % 2 == 0 else tuple(reversed(VARIANTS))


@dataclass
class Measurement:
    tallies: dict[str, Tally]
    rounds_completed: int
    truncated: bool
    client_loop: str


async def measure(
    stack: Stack,
    cookie: str,
    *,
    requests: int,
    rounds: int,
    concurrency: int,
    warmup: int,
    max_seconds: float,
) -> Measurement:
    deadline = time.monotonic() + max_seconds
    direct = _client(
        stack.sandbox.url,
        concurrency,
        {"Authorization": f"Bearer {MEMBER_KEY}", "x-meetergo-api-user-id": ALICE_ID},
    )
    proxied = _client(
        stack.service.url, concurrency, {"X-CSRF": "1", "Cookie": f"{SECURE_NAME}={cookie}"}
    )
    health = _client(stack.service.url, concurrency, {})
    senders = {
        "direct": _sender(direct, UPSTREAM_PATH),
        "service": _sender(proxied, SERVICE_PATH, follow_cookie=True),
        "healthz": _sender(health, HEALTH_PATH),
    }
    tallies = {variant.key: Tally() for variant in VARIANTS}
    completed = 0
    try:
        # Warm-up, each variant in turn: connections opened, code paths and caches hot.
        for variant in VARIANTS:
            batch = await run_batch(senders[variant.key], warmup, concurrency, deadline)
            if batch.errors:
                tallies[variant.key].note_errors(batch)
                return Measurement(tallies, 0, True, _loop_name())
        for index in range(rounds):
            batches: dict[str, Batch] = {}
            for variant in round_order(index):
                gc.collect()  # the client's garbage from the last batch is not this one's cost
                batches[variant.key] = await run_batch(
                    senders[variant.key], requests, concurrency, deadline
                )
            if not all(batch.finished(requests) for batch in batches.values()):
                # Cut short by the deadline or by errors: a partial round would weigh the
                # variants unevenly, so only its errors are kept.
                for key, batch in batches.items():
                    tallies[key].note_errors(batch)
                return Measurement(tallies, completed, True, _loop_name())
            for key, batch in batches.items():
                tallies[key].add(batch)
            completed += 1
            print(f"round {completed}/{rounds} done", file=sys.stderr, flush=True)
        return Measurement(tallies, completed, False, _loop_name())
    finally:
        for client in (direct, proxied, health):
            await client.aclose()


def _loop_name() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def _run(coroutine: Coroutine[Any, Any, Measurement]) -> Measurement:
    """Run on uvloop when installed (as the servers do): less client overhead in every variant."""
    try:
        import uvloop  # noqa: PLC0415 - optional

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)


# -- statistics and the report -------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted values, interpolated linearly between the closest ranks."""
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(variant: Variant, tally: Tally) -> dict[str, Any]:
    ordered = sorted(tally.latencies_ns)
    summary: dict[str, Any] = {
        "label": variant.label,
        "what": variant.what,
        "requests": len(ordered),
        "errors": tally.errors,
        "first_error": tally.first_error,
        "round_medians_ms": [round(value, 4) for value in tally.round_medians_ms],
    }
    if ordered:
        summary |= {
            "median_ms": round(percentile(ordered, 50) / 1e6, 4),
            "p90_ms": round(percentile(ordered, 90) / 1e6, 4),
            "p99_ms": round(percentile(ordered, 99) / 1e6, 4),
            "throughput_rps": round(len(ordered) / tally.elapsed_s, 1),
        }
    return summary


def ratio(summaries: dict[str, dict[str, Any]], top: str, bottom: str) -> dict[str, Any] | None:
    upper, lower = summaries[top], summaries[bottom]
    if "median_ms" not in upper or "median_ms" not in lower:
        return None
    per_round = [
        round(a / b, 3)
        for a, b in zip(upper["round_medians_ms"], lower["round_medians_ms"], strict=False)
        if b > 0
    ]
    return {
        "median": round(upper["median_ms"] / lower["median_ms"], 3),
        "p90": round(upper["p90_ms"] / lower["p90_ms"], 3),
        "median_difference_ms": round(upper["median_ms"] - lower["median_ms"], 4),
        "per_round_median_ratios": per_round,
        "per_round_min": min(per_round) if per_round else None,
        "per_round_max": max(per_round) if per_round else None,
    }


def machine_facts() -> dict[str, Any]:
    try:
        uvloop_version: str | None = importlib.metadata.version("uvloop")
    except importlib.metadata.PackageNotFoundError:
        uvloop_version = None
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "httpx": httpx.__version__,
        "uvicorn": importlib.metadata.version("uvicorn"),
        "uvloop": uvloop_version,
    }


def render_table(report: dict[str, Any]) -> str:
    rows = report["variants"]
    width = max(len(f"{key}  {row['what']}") for key, row in rows.items())
    header = (
        f"{'':2} {'variant':<{width}} {'requests':>8} {'errors':>6} "
        f"{'median ms':>9} {'p90 ms':>8} {'p99 ms':>8} {'req/s':>7}"
    )
    lines = [header, "-" * len(header)]
    for key, row in rows.items():
        if "median_ms" in row:
            numbers = (
                f"{row['median_ms']:>9.3f} {row['p90_ms']:>8.3f} {row['p99_ms']:>8.3f} "
                f"{row['throughput_rps']:>7.0f}"
            )
        else:
            numbers = f"{'-':>9} {'-':>8} {'-':>8} {'-':>7}"
        lines.append(
            f"{row['label']:<2} {key + '  ' + row['what']:<{width}} {row['requests']:>8} "
            f"{row['errors']:>6} {numbers}"
        )
    lines.append("")
    for name, value in report["ratios"].items():
        if value is None:
            lines.append(f"{name}: not available")
            continue
        spread = ""
        if value["per_round_min"] is not None:
            spread = (
                f" (per-round medians: {value['per_round_min']:.2f}-{value['per_round_max']:.2f})"
            )
        lines.append(
            f"{name}: median {value['median']:.2f}x{spread}, p90 {value['p90']:.2f}x, "
            f"median difference {value['median_difference_ms']:+.3f} ms"
        )
    parameters = report["parameters"]
    lines.append(
        f"\n{report['rounds_completed']}/{parameters['rounds']} rounds x {parameters['requests']} "
        f"requests per variant, concurrency {parameters['concurrency']}, client loop "
        f"{report['client_loop']}; nproc {report['machine']['nproc']}, "
        f"Python {report['machine']['python']}"
        + ("; TRUNCATED by --max-seconds or errors" if report["truncated"] else "")
    )
    return "\n".join(lines)


# -- the command ---------------------------------------------------------------------------------


def _bounded(kind: type[int] | type[float], name: str) -> Callable[[str], Any]:
    low, high = LIMITS[name]

    def parse(text: str) -> Any:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.proxy_overhead",
        description="The service's overhead on a calendar read, side by side with the sandbox.",
    )
    parser.add_argument(
        "--requests",
        type=_bounded(int, "requests"),
        default=1000,
        help="requests per variant and round (default 1000)",
    )
    parser.add_argument(
        "--rounds",
        type=_bounded(int, "rounds"),
        default=10,
        help="interleaved rounds (default 10)",
    )
    parser.add_argument(
        "--concurrency",
        type=_bounded(int, "concurrency"),
        default=1,
        help="requests in flight per variant (default 1: pure latency)",
    )
    parser.add_argument(
        "--warmup",
        type=_bounded(int, "warmup"),
        default=200,
        help="unrecorded requests per variant first (default 200)",
    )
    parser.add_argument(
        "--max-seconds",
        type=_bounded(float, "max_seconds"),
        default=300.0,
        help="wall-clock budget for warm-up and measurement (default 300)",
    )
    parser.add_argument(
        "--service-log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="the service's log level (default info: one JSON access line per request, as "
        "deployed; written to /dev/null)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    when = datetime.now(UTC)
    with running_stack(
        concurrency=args.concurrency, log_level=args.service_log_level, max_seconds=args.max_seconds
    ) as stack:
        connection_id = connect_alice(stack.sandbox.url)
        cookie = sign_in(stack.service.url, stack.ticket_secret)
        _check_same_answer(stack, cookie, connection_id)
        measured = _run(
            measure(
                stack,
                cookie,
                requests=args.requests,
                rounds=args.rounds,
                concurrency=args.concurrency,
                warmup=args.warmup,
                max_seconds=args.max_seconds,
            )
        )
    summaries = {v.key: summarise(v, measured.tallies[v.key]) for v in VARIANTS}
    report: dict[str, Any] = {
        "benchmark": "proxy_overhead",
        "command": shlex.join([_interpreter(), "-m", "bench.proxy_overhead", *arguments]),
        "date": when.isoformat(timespec="seconds"),
        "machine": machine_facts(),
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rounds_completed": measured.rounds_completed,
        "truncated": measured.truncated,
        "client_loop": measured.client_loop,
        "variants": summaries,
        "ratios": {
            "B/A (service / direct)": ratio(summaries, "service", "direct"),
            "B/C (service / healthz)": ratio(summaries, "service", "healthz"),
        },
    }
    print(render_table(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if measured.rounds_completed == 0:
        print("no round completed: raise --max-seconds or lower --requests", file=sys.stderr)
        return 1
    failed = {key: row for key, row in summaries.items() if row["errors"]}
    for key, row in failed.items():
        print(f"{key}: {row['errors']} errors, the first: {row['first_error']}", file=sys.stderr)
    return 1 if failed else 0


def _interpreter() -> str:
    """This interpreter as typed from the repository's root (``.venv/bin/python``), if inside it."""
    executable = Path(sys.executable)
    if executable.is_relative_to(REPO_ROOT):
        return str(executable.relative_to(REPO_ROOT))
    return sys.executable


def _check_same_answer(stack: Stack, cookie: str, connection_id: str) -> None:
    """A and B must read the same thing, or the comparison means nothing."""
    with httpx.Client(timeout=REQUEST_TIMEOUT, trust_env=False, cookies=_no_cookie_jar()) as c:
        direct = c.get(
            stack.sandbox.url + UPSTREAM_PATH,
            headers={"Authorization": f"Bearer {MEMBER_KEY}", "x-meetergo-api-user-id": ALICE_ID},
        )
        proxied = c.get(
            stack.service.url + SERVICE_PATH,
            headers={"X-CSRF": "1", "Cookie": f"{SECURE_NAME}={cookie}"},
        )
    if direct.status_code != 200 or proxied.status_code != 200:
        raise RuntimeError(f"set-up reads: {direct.status_code} {proxied.status_code}")
    if direct.json() != proxied.json():
        raise RuntimeError("the service's answer differs from the sandbox's")
    if connection_id not in direct.text:
        raise RuntimeError("Alice's new connection is not listed")


if __name__ == "__main__":
    sys.exit(main())
