"""How well meetergo's rate limit is spent: the service's replicas side by side with no service.

``python -m bench.quota_efficiency [--quick] [--scenario A|B|both] [--service-env BFF_X=Y ...]``

Per scenario, two variants run **at the same time**, each against its own sandbox (so each has
its own bucket of 100 requests a minute, burst 200, meetergo's documented limit):

- **service**: the simulated users, each a browser with a session, call the service; it runs as
  ``--replicas`` processes (default 3, as ``meetergo-bff serve`` runs it) sharing one Redis, and
  each request goes to a replica picked at random;
- **direct**: the same users, the same plan, call the sandbox straight with the company's key:
  what a SPA would do without the service.

Scenario A: 300 app users, each with a meetergo user of their own. Scenario B: 300 app users
sharing 10 meetergo users (the read cache's best case). What the users do is in
``bench/quota/workload.py``; the theoretical maximum of useful answers in ``bench/quota/theory.py``.

Figures per variant come from three places: the users' own answers (fresh, cached, stale, 429 with
its Retry-After, 5xx, latency), the sandbox's traffic log (upstream calls, 429s, the busiest 60 s)
and the sandbox's final state (which writes were applied). Everything goes to a JSON report and a
Markdown table.

Bounds: every server is a child process on 127.0.0.1 that exits when this process closes its stdin
or after a hard time limit; Redis is a throwaway ``redis-server`` on a free port (or, with
``--redis-url``, keys under a fresh prefix, deleted at the end); each request has a timeout; users
still busy 60 s after the planned end are cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import random
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.processes import (
    LOOPBACK,
    REPO_ROOT,
    Server,
    own_redis,
    start_server,
    stop_server,
    wait_until_up,
)
from bench.proxy_overhead import machine_facts
from bench.quota.report import markdown_table, percentile, variant_figures
from bench.quota.theory import first_come_maximum, theoretical_maximum
from bench.quota.users import BaseUser, DirectUser, Outcome, ServiceUser
from bench.quota.workload import AppUser, Scenario, ideal_requests, plan
from sandbox.seed import MEMBER_KEY
from tests.support.servers import bind_ephemeral

REQUEST_TIMEOUT = 30.0
OVERRUN_SECONDS = 60.0
"""Users still busy this long after the planned end are cancelled."""
RESULTS_DIR = REPO_ROOT / "bench" / "results"


@dataclass
class Stack:
    direct_sandbox: Server
    service_sandbox: Server
    replicas: list[Server]
    public_url: str
    ticket_secret: str
    redis: str


def _service_settings(
    args: argparse.Namespace, sandbox: Server, public_url: str, redis_url: str, prefix: str
) -> dict[str, Any]:
    return {
        "environment": "development",  # plain http on loopback
        "public_url": public_url,  # one origin for every replica, as behind a load balancer
        "meetergo_api_key": MEMBER_KEY,
        "meetergo_base_url": sandbox.url,
        "session_keys": [args.session_key],
        "ticket_secret": args.ticket_secret,
        "redis_url": redis_url,
        "redis_prefix": prefix,
        "log_level": args.service_log_level,
        "shutdown_drain_seconds": 0,
        "shutdown_grace_seconds": 1,
    }


def _sandbox_settings(args: argparse.Namespace, scenario: Scenario) -> dict[str, Any]:
    return {
        "users": scenario.meetergo_users,
        "rate_limit_per_minute": args.sandbox_rate,
        "rate_limit_burst": args.sandbox_burst,
        "request_log_size": 100,
    }


@contextlib.contextmanager
def running_stack(args: argparse.Namespace, scenario: Scenario) -> Iterator[Stack]:
    lifetime = scenario.duration + OVERRUN_SECONDS + 180
    started: list[Server] = []
    prefix = f"bench-qe-{secrets.token_hex(4)}:"
    with contextlib.ExitStack() as exits:
        redis_url = args.redis_url or exits.enter_context(own_redis(lifetime))
        if args.redis_url:
            exits.callback(_delete_prefix, args.redis_url, prefix)
        exits.callback(_stop_all, started)
        sandbox_settings = _sandbox_settings(args, scenario)
        direct = start_server("sandbox", sandbox_settings, lifetime, name="sandbox (direct)")
        started.append(direct)
        behind = start_server("sandbox", sandbox_settings, lifetime, name="sandbox (service)")
        started.append(behind)
        sockets = [bind_ephemeral(LOOPBACK) for _ in range(args.replicas)]
        public_url = f"http://{LOOPBACK}:{sockets[0].getsockname()[1]}"
        settings = _service_settings(args, behind, public_url, redis_url, prefix)
        for number, sock in enumerate(sockets, start=1):
            replica = start_server(
                "service", settings, lifetime, sock=sock, name=f"replica {number}", env=args.env
            )
            started.append(replica)
        with httpx.Client(trust_env=False) as probe:
            for server in started:
                wait_until_up(server, probe)
        yield Stack(direct, behind, started[2:], public_url, args.ticket_secret, redis_url)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _stop_all(servers: list[Server]) -> None:
    for server in reversed(servers):
        stop_server(server)


def _delete_prefix(redis_url: str, prefix: str) -> None:
    import redis  # noqa: PLC0415 - only with --redis-url

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


# -- one scenario ----------------------------------------------------------------------------------


async def _login_all(users: list[ServiceUser], secret: str) -> None:
    gate = asyncio.Semaphore(8)

    async def login(user: ServiceUser) -> None:
        async with gate:
            await user.login(secret)

    await asyncio.gather(*(login(user) for user in users))


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=REQUEST_TIMEOUT,
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, so a
        # request never races the server's close (a ReadError that is nobody's fault).
        limits=httpx.Limits(
            max_connections=200, max_keepalive_connections=100, keepalive_expiry=3.0
        ),
        trust_env=False,
        follow_redirects=False,
    )


@dataclass
class Driven:
    outcomes: list[Outcome]
    lateness: dict[str, list[float]]
    client_loop: str


async def _drive(stack: Stack, users: list[AppUser], duration: float) -> Driven:
    outcomes: list[Outcome] = []
    rng = random.Random(7)
    async with _client() as direct_client, _client() as service_client:
        placeholder = time.monotonic()
        service_users = [
            ServiceUser(
                user,
                service_client,
                stack.service_sandbox.url,
                placeholder,
                outcomes,
                [replica.url for replica in stack.replicas],
                stack.public_url,
                rng,
            )
            for user in users
        ]
        await _login_all(service_users, stack.ticket_secret)
        direct_users = [
            DirectUser(user, direct_client, stack.direct_sandbox.url, placeholder, outcomes)
            for user in users
        ]
        everyone: list[BaseUser] = [*direct_users, *service_users]
        began = time.monotonic() + 0.5
        for user in everyone:
            user.started = began
        deadline = began + duration + OVERRUN_SECONDS
        tasks = [asyncio.ensure_future(user.run(deadline)) for user in everyone]
        _, pending = await asyncio.wait(tasks, timeout=deadline - time.monotonic())
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise RuntimeError("a simulated user failed") from task.exception()
    lateness: dict[str, list[float]] = {"direct": [], "service": []}
    for user in everyone:
        lateness[user.variant] += user.lateness
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    return Driven(outcomes, lateness, loop)


def _run(coroutine: Coroutine[Any, Any, Driven]) -> Driven:
    """On uvloop when installed, as the servers run: 600 users' requests cost the client less."""
    try:
        import uvloop  # noqa: PLC0415 - optional

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)


def _admin_get(server: Server, path: str, **params: Any) -> Any:
    with httpx.Client(trust_env=False, timeout=30) as client:
        response = client.get(server.url + path, params=params)
    response.raise_for_status()
    return response.json()


def run_scenario(args: argparse.Namespace, scenario: Scenario) -> dict[str, Any]:
    users = plan(scenario)
    requests = ideal_requests(users)
    print(
        f"scenario {scenario.name}: {scenario.app_users} app users on {scenario.meetergo_users} "
        f"meetergo users, {scenario.duration:g} s, {len(requests)} planned requests",
        file=sys.stderr,
        flush=True,
    )
    with running_stack(args, scenario) as stack:
        began = time.monotonic()
        driven = _run(_drive(stack, users, scenario.duration))
        outcomes = driven.outcomes
        elapsed = time.monotonic() - began
        time.sleep(0.5)
        sandboxes = {"direct": stack.direct_sandbox, "service": stack.service_sandbox}
        observed = {
            name: (
                _admin_get(server, "/_sandbox/traffic", window=60),
                _admin_get(server, "/_sandbox/state"),
            )
            for name, server in sandboxes.items()
        }
    # The limit's allowance grows with time: measure it over the run as it really went (the
    # plan's last request, or the last answer when the users ran late), never less.
    span = max(
        max((r.time for r in requests), default=0.0),
        max((o.started + o.latency for o in outcomes), default=0.0),
    )
    bound, uncached = (
        theoretical_maximum(
            requests,
            ttl=ttl,
            rate_per_minute=args.sandbox_rate,
            burst=args.sandbox_burst,
            span=span,
        )
        for ttl in (args.theory_ttl, 0.0)
    )
    # What a perfect scheduler could serve within the service's own budget: at most N calls in
    # any 60 s window, no burst on top (the budget's sliding window), the same reads and writes.
    within_budget = theoretical_maximum(
        requests,
        ttl=args.theory_ttl,
        rate_per_minute=_service_budget(args),
        burst=0,
        span=max(span, 60.0),
    )
    # The same budget, spent by an ideal first-come, first-served scheduler: no foresight.
    first_come = first_come_maximum(
        requests, ttl=args.theory_ttl, per_window=int(_service_budget(args))
    )
    variants = {}
    for name, (traffic, state) in observed.items():
        mine = [o for o in outcomes if o.variant == name]
        variants[name] = variant_figures(mine, users, state, traffic, bound)
        useful = variants[name]["useful_answers"]
        variants[name]["share_of_budget_max"] = (
            round(useful / within_budget.max_useful, 4) if within_budget.max_useful else None
        )
        variants[name]["share_of_first_come_max"] = (
            round(useful / first_come, 4) if first_come else None
        )
        late = sorted(driven.lateness[name])
        variants[name]["plan_lateness_s"] = {
            "p50": _rounded(percentile(late, 50)),
            "p99": _rounded(percentile(late, 99)),
            "max": _rounded(late[-1] if late else None),
        }
    return {
        "client_loop": driven.client_loop,
        "scenario": scenario.describe() | {"title": scenario.title},
        "elapsed_seconds": round(elapsed, 1),
        "theory": bound.to_json(),
        "theory_without_cache": uncached.to_json(),
        "theory_within_budget": within_budget.to_json(),
        "theory_first_come": first_come,
        "variants": variants,
        "outcomes": [dataclasses.asdict(o) for o in outcomes] if args.keep_outcomes else None,
    }


def _service_budget(args: argparse.Namespace) -> float:
    """The replicas' BFF_BUDGET_PER_MINUTE: from --service-env, else the service's default."""
    return float(dict(args.service_env).get("BFF_BUDGET_PER_MINUTE", 90))


# -- the command -----------------------------------------------------------------------------------


def scenarios_of(args: argparse.Namespace) -> list[Scenario]:
    duration = args.duration or (60.0 if args.quick else 180.0)
    chosen = []
    if args.scenario in ("A", "both"):
        chosen.append(
            Scenario(
                "A",
                "each app user has a meetergo user of their own",
                app_users=args.app_users,
                meetergo_users=args.app_users,
                duration=duration,
                seed=args.seed,
            )
        )
    if args.scenario in ("B", "both"):
        chosen.append(
            Scenario(
                "B",
                "many app users share few meetergo users",
                app_users=args.app_users,
                meetergo_users=min(args.shared_users, args.app_users),
                duration=duration,
                seed=args.seed,
            )
        )
    return chosen


def _setting(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name.startswith("BFF_"):
        raise argparse.ArgumentTypeError("expected BFF_NAME=value")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quota_efficiency",
        description="meetergo's rate limit spent through the service's replicas, side by side "
        "with the browser calling meetergo directly.",
    )
    parser.add_argument("--scenario", choices=("A", "B", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="60 s per scenario instead of 180")
    parser.add_argument("--duration", type=float, help="seconds per scenario (overrides --quick)")
    parser.add_argument("--app-users", type=int, default=300, help="simulated users (300)")
    parser.add_argument(
        "--shared-users", type=int, default=10, help="meetergo users in scenario B (10)"
    )
    parser.add_argument("--replicas", type=int, default=3, help="service processes (3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the users' plan (1)")
    parser.add_argument(
        "--sandbox-rate", type=float, default=100, help="meetergo's refill per minute (100)"
    )
    parser.add_argument("--sandbox-burst", type=int, default=200, help="meetergo's burst (200)")
    parser.add_argument(
        "--theory-ttl",
        type=float,
        default=30.0,
        help="how long a read stays fresh for the theoretical maximum (30 s, the service's "
        "default cache TTL)",
    )
    parser.add_argument(
        "--service-env",
        type=_setting,
        action="append",
        default=[],
        metavar="BFF_NAME=VALUE",
        help="a setting for every replica, e.g. BFF_BUDGET_PER_MINUTE=90 (repeatable)",
    )
    parser.add_argument(
        "--service-log-level", choices=("debug", "info", "warning", "error"), default="warning"
    )
    parser.add_argument(
        "--redis-url",
        help="use this Redis (keys under a fresh prefix, deleted afterwards) instead of a "
        "throwaway redis-server",
    )
    parser.add_argument("--label", default="", help="a name for this run in the report")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the JSON report here")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="write the table here")
    parser.add_argument(
        "--keep-outcomes", action="store_true", help="put every user request in the JSON"
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="REPORT",
        help="run nothing: print the table of an earlier JSON report (this version's rows)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(arguments)
    if args.render is not None:
        print(markdown_table(json.loads(args.render.read_text(encoding="utf-8"))["scenarios"]))
        return 0
    if not 1 <= args.app_users <= 5000 or not 1 <= args.replicas <= 8:
        parser.error("--app-users must be 1..5000 and --replicas 1..8")
    # A plain kill must still stop the servers and Redis: turn SIGTERM into an orderly exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.env = dict(args.service_env)
    args.session_key = secrets.token_urlsafe(32)
    args.ticket_secret = secrets.token_urlsafe(32)
    when = datetime.now(UTC)
    commit = _git_commit()  # now: the checkout may move on while the run goes
    results = {scenario.name: run_scenario(args, scenario) for scenario in scenarios_of(args)}
    table = markdown_table(results)
    report = {
        "benchmark": "quota_efficiency",
        "label": args.label,
        "command": shlex.join([_interpreter(), "-m", "bench.quota_efficiency", *arguments]),
        "date": when.isoformat(timespec="seconds"),
        "machine": machine_facts(),
        "git_commit": commit,
        "service_env": args.env,
        "replicas": args.replicas,
        "sandbox_limit": {"per_minute": args.sandbox_rate, "burst": args.sandbox_burst},
        "scenarios": results,
        "table": table,
    }
    print(table)
    json_path = args.json or RESULTS_DIR / f"quota_efficiency-{when:%Y%m%dT%H%M%S}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON report: {json_path}", file=sys.stderr)
    if args.markdown is not None:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return 0


def _git_commit() -> str | None:
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH, read-only
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return described.stdout.strip() or None


def _interpreter() -> str:
    executable = Path(sys.executable)
    if executable.is_relative_to(REPO_ROOT):
        return str(executable.relative_to(REPO_ROOT))
    return sys.executable


if __name__ == "__main__":
    sys.exit(main())
