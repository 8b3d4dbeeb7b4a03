"""The hot path, side by side: throughput, latency at a constant rate, memory, start-up, overload.

``python -m bench.hotpath [--seconds S] [--rounds R] [--soak-seconds N] [--profile] [--json PATH]``

Everything runs on 127.0.0.1, each server in its own process, all of it started here and stopped
here (nginx by the pid of the master it started; the Python servers end on EOF on stdin). nginx
and wrk come from Debian and are installed with apt-get when missing.

Variants, measured in interleaved rounds (the order reversed every other round), each with
**wrk** (closed loop, 32 connections: requests per second) and with an **open-loop** generator at
``--rate`` requests per second (p50/p99 latency counted from when each request was due):

- ``upstream``: nginx serving meetergo's example answer for the connection list (the upstream);
- ``nginx_proxy``: nginx ``proxy_pass`` to it, injecting the two headers;
- ``naive``: a thirty-line FastAPI + httpx pass-through (``bench.naive_proxy``);
- ``healthz``: this service's ``/healthz`` (its floor);
- ``miss``: this service, a proxied read of the list that goes to the upstream every time
  (``BFF_CACHE_TTL=0`` once the service has a read cache, plus ``--service-env``);
- ``cached``: this service, the same read answered from its cache (skipped, with the reason
  printed, while the service has no cache setting);
- ``miss_redis`` (with ``--redis-url``): the miss with sessions in Redis, so each read also pays
  the revocation check's round trip to Redis;
- ``miss_baseline`` and ``cached_baseline`` (with ``--baseline-tree DIR``): the miss and the
  cached read served by another checkout's code, e.g. main's before a change, side by side.

Then for the ``miss`` service: the open loop at ``--sustain-rate`` (the issue's 500 req/s: no
errors), RSS per worker, start-up time (process start to the first ``/healthz`` 200, median of
three cold starts), and the **soak**: ``--soak-seconds`` of wrk on ``--overload`` times the
in-flight bound in connections, plus an open loop of impatient clients (a fifth hang up early),
every request with a deadline; afterwards the service must answer normally again (``/readyz``
200, every read 200 within the deadline). See :func:`soak`.

``--soak-only`` runs just the soak, its capacity from a 3 s wrk measurement (``--soak-rate`` sets
the impatient clients' rate); ``tests/bench/test_hotpath_soak.py`` runs it for 20 s in CI.
``--profile`` samples the service with py-spy during one extra wrk run of ``miss`` and one of
``cached``, and prints the top frames of each.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop

from app.config import Settings
from bench.load import OpenLoopResult, open_loop, wrk
from bench.nginx import LIST_PATH, Nginx, ensure_tools, running_nginx
from bench.processes import REPO_ROOT, Server, start_server, stop_server, wait_until_up
from bench.proxy_overhead import sign_in
from sandbox.seed import MEMBER_KEY

SERVICE_PATH = "/api" + LIST_PATH
VARIANTS = ("upstream", "nginx_proxy", "naive", "healthz", "miss", "cached", "miss_redis")
METRICS_TOKEN = "bench-metrics-Xq7Lm2Vp9Rt4Kw8Zn3Hc6Bd1Fy5"  # noqa: S105 - loopback only
SOAK_DEADLINE = 2.0  # seconds a client waits for any answer during the soak
RECOVERY_SECONDS = 10.0  # how long the service may take to answer /readyz 200 after the soak
MAX_IN_FLIGHT = 64  # the service's default BFF_MAX_IN_FLIGHT: the flood opens overload times this
IMPATIENT_MAX_RATE = 1000.0  # what the Python generator sends reliably beside wrk on two cores
TARGETS = {
    "added_p50_ms": 1.0,
    "sustain_rate": 500,
    "naive_ratio": 3.0,
    "cached_of_healthz": 0.7,
    "rss_mb": 100.0,
    "startup_s": 1.5,
}


def _has_cache_setting() -> bool:
    return "cache_ttl" in Settings.model_fields


def service_settings(upstream_url: str, ticket_secret: str) -> dict[str, Any]:
    return {
        "environment": "development",  # plain http on loopback
        "meetergo_api_key": MEMBER_KEY,
        "meetergo_base_url": upstream_url,
        "session_keys": ["bench-" + ticket_secret[::-1]],
        "ticket_secret": ticket_secret,
        "log_level": "info",  # one JSON access line per request, as in production
        "upstream_connect_timeout": 1.0,
        "upstream_read_timeout": 1.5,
        "upstream_write_timeout": 1.5,
        "upstream_pool_timeout": 1.0,
        "upstream_deadline": SOAK_DEADLINE * 0.75,
        "upstream_retries": 0,  # a failure shows as an error, not as a slower request
        "shutdown_drain_seconds": 0,
        "shutdown_grace_seconds": 1,
        "metrics_token": METRICS_TOKEN,
    }


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    server: Server | None = None  # the service behind it, for a fresh sign-in


@dataclass
class Services:
    nginx: Nginx
    ticket_secret: str
    naive: Server
    miss: Server
    cached: Server | None
    startup_first_s: float
    miss_redis: Server | None = None
    miss_baseline: Server | None = None
    cached_baseline: Server | None = None


def _start(
    role: str,
    settings: dict[str, Any],
    env: dict[str, str],
    lifetime: float,
    root: Path = REPO_ROOT,
) -> tuple[Server, float]:
    started = time.monotonic()
    server = start_server(role, settings, lifetime, env=env, root=root)
    with httpx.Client(trust_env=False) as probe:
        wait_until_up(server, probe)
    return server, time.monotonic() - started


@contextlib.contextmanager
def running_services(
    extra_env: dict[str, str],
    lifetime: float,
    *,
    with_naive: bool = True,
    redis_url: str | None = None,
    baseline: Path | None = None,
) -> Iterator[Services]:
    import secrets  # noqa: PLC0415

    ticket_secret = secrets.token_urlsafe(32)
    started: list[Server] = []
    with running_nginx() as nginx:
        try:
            naive = None
            if with_naive:
                naive, _ = _start("naive", {"upstream_url": nginx.upstream_url}, {}, lifetime)
                started.append(naive)
            settings = service_settings(nginx.upstream_url, ticket_secret)
            miss_env = dict(extra_env)
            if _has_cache_setting():
                # The path, not the quota: no cache, and a budget that never refuses.
                miss_env.setdefault("BFF_CACHE_TTL", "0")
                miss_env.setdefault("BFF_BUDGET_PER_MINUTE", "10000")
                miss_env.setdefault("BFF_BUDGET_PER_USER_PER_MINUTE", "0")
            miss, startup = _start("service", settings, miss_env, lifetime)
            started.append(miss)
            cached = None
            if _has_cache_setting():
                cached, _ = _start("service", settings, dict(extra_env), lifetime)
                started.append(cached)
            miss_redis = None
            if redis_url:  # the same miss, with sessions checked in Redis (one MGET per read)
                redis_env = miss_env | {
                    "BFF_REDIS_URL": redis_url,
                    "BFF_REDIS_PREFIX": f"bench-hotpath-{secrets.token_hex(4)}:",
                }
                miss_redis, _ = _start("service", settings, redis_env, lifetime)
                started.append(miss_redis)
            miss_baseline = cached_baseline = None
            if baseline is not None:  # the same reads, served by another checkout's code
                miss_baseline, _ = _start("service", settings, miss_env, lifetime, baseline)
                started.append(miss_baseline)
                if cached is not None:
                    cached_baseline, _ = _start(
                        "service", settings, dict(extra_env), lifetime, baseline
                    )
                    started.append(cached_baseline)
            yield Services(
                nginx,
                ticket_secret,
                naive or miss,
                miss,
                cached,
                startup,
                miss_redis,
                miss_baseline,
                cached_baseline,
            )
        finally:
            for server in reversed(started):
                stop_server(server)


def _service_headers(server: Server, ticket_secret: str) -> dict[str, str]:
    """A fresh session's headers; the sign-in is retried while the service is still busy."""
    from app.session.cookie import SECURE_NAME  # noqa: PLC0415

    deadline = time.monotonic() + 30
    while True:
        try:
            cookie = sign_in(server.url, ticket_secret)
            break
        except (httpx.HTTPError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    return {"Cookie": f"{SECURE_NAME}={cookie}", "X-CSRF": "1", "Origin": server.url}


def targets(services: Services) -> list[Target]:
    nginx = services.nginx
    found = [
        Target("upstream", nginx.upstream_url + LIST_PATH, {}),
        Target("nginx_proxy", nginx.proxy_url + LIST_PATH, {}),
        Target("naive", services.naive.url + "/api" + LIST_PATH, {}),
        Target("healthz", services.miss.url + "/healthz", {}),
        Target("miss", services.miss.url + SERVICE_PATH, {}, services.miss),
    ]
    if services.cached is not None:
        found.append(Target("cached", services.cached.url + SERVICE_PATH, {}, services.cached))
    if services.miss_redis is not None:
        redis = services.miss_redis
        found.append(Target("miss_redis", redis.url + SERVICE_PATH, {}, redis))
    if services.miss_baseline is not None:
        base = services.miss_baseline
        found.append(Target("miss_baseline", base.url + SERVICE_PATH, {}, base))
    if services.cached_baseline is not None:
        base = services.cached_baseline
        found.append(Target("cached_baseline", base.url + SERVICE_PATH, {}, base))
    return found


def _rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of ``pid`` in MB (from /proc)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def _settle(found: list[Target], seconds: float = 10.0) -> None:
    """Wait until every server answers quickly again: no backlog of one run in the next."""
    urls = {t.url.split("/", 3)[2] for t in found}
    deadline = time.monotonic() + seconds
    with httpx.Client(trust_env=False, timeout=seconds) as client:
        for host in urls:
            while time.monotonic() < deadline:
                started = time.monotonic()
                with contextlib.suppress(httpx.HTTPError):
                    client.get(f"http://{host}/healthz")
                if time.monotonic() - started < 0.02:
                    break
                time.sleep(0.2)
    time.sleep(0.5)


def _check_200(target: Target) -> None:
    with httpx.Client(trust_env=False, timeout=5) as client:
        response = client.get(target.url, headers=target.headers)
    if response.status_code != 200:
        raise RuntimeError(f"{target.name}: {response.status_code} {response.text[:300]}")


# -- the run -------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, extra_env: dict[str, str]) -> dict[str, Any]:
    lifetime = args.rounds * 200 + args.soak_seconds + 300
    report: dict[str, Any] = {"variants": {}, "skipped": {}}
    with running_services(
        extra_env, lifetime, redis_url=args.redis_url, baseline=args.baseline_tree
    ) as services:
        found = targets(services)
        if services.cached is None:
            report["skipped"]["cached"] = (
                "the service has no read cache setting yet (Settings.cache_ttl): nothing to "
                "measure; it runs once the budget issue's cache exists"
            )
            print(f"cached: skipped: {report['skipped']['cached']}")
        for target in found:
            if target.server is not None:
                target.headers = _service_headers(target.server, services.ticket_secret)
            _check_200(target)
        rps: dict[str, list[float]] = {t.name: [] for t in found}
        p50: dict[str, list[float]] = {t.name: [] for t in found}
        p99: dict[str, list[float]] = {t.name: [] for t in found}
        errors: Counter[str] = Counter()
        sustain: list[dict[str, Any]] = []
        for round_number in range(args.rounds):
            order = found if round_number % 2 == 0 else list(reversed(found))
            for target in order:
                _settle(found)
                if target.server is not None:  # a fresh session: no cookie refresh inside a run
                    target.headers = _service_headers(target.server, services.ticket_secret)
                result = wrk(target.url, target.headers, seconds=args.seconds)
                rps[target.name].append(result.requests_per_second)
                errors[target.name] += result.errors
                latency = uvloop.run(
                    open_loop(target.url, target.headers, rate=args.rate, seconds=args.seconds)
                )
                _add_latency(target.name, latency, p50, p99, errors)
                print(
                    f"round {round_number + 1}/{args.rounds} {target.name:<12}"
                    f" {result.requests_per_second:>9.0f} req/s"
                    f"  p50 {latency.percentile_ms(0.5) or 0:.2f} ms"
                    f"  p99 {latency.percentile_ms(0.99) or 0:.2f} ms",
                    flush=True,
                )
        for _ in range(args.rounds):  # after the rounds: an overloaded miss must not slow them
            _settle(found)
            miss = next(t for t in found if t.name == "miss")
            miss.headers = _service_headers(services.miss, services.ticket_secret)
            held = uvloop.run(
                open_loop(miss.url, miss.headers, rate=args.sustain_rate, seconds=args.seconds)
            )
            sustain.append(held.summary())
            print(f"sustain {args.sustain_rate:.0f} req/s: {json.dumps(held.summary())}")
        for target in found:
            report["variants"][target.name] = {
                "wrk_rps_median": statistics.median(rps[target.name]),
                "wrk_rps_rounds": rps[target.name],
                "p50_ms_median": statistics.median(p50[target.name]),
                "p99_ms_median": statistics.median(p99[target.name]),
                "p50_ms_rounds": p50[target.name],
                "errors": errors[target.name],
            }
        report["sustain"] = sustain
        rss, peak = _rss_mb(services.miss.process.pid)
        report["rss_mb"] = {"miss_now": rss, "miss_peak": peak}
        if services.cached is not None:
            report["rss_mb"]["cached_now"], report["rss_mb"]["cached_peak"] = _rss_mb(
                services.cached.process.pid
            )
        if args.profile:
            report["profile"] = {"miss": profile(found, "miss", services.miss, services)}
            if services.cached is not None:
                report["profile"]["cached"] = profile(found, "cached", services.cached, services)
        if args.soak_seconds > 0:
            capacity = report["variants"]["miss"]["wrk_rps_median"]
            report["soak"] = soak(
                services,
                capacity=capacity,
                overload=args.overload,
                seconds=args.soak_seconds,
                rate=args.soak_rate,
            )
    report["startup_s"] = startup_times(extra_env, lifetime=60)
    return report


def _add_latency(
    name: str,
    result: OpenLoopResult,
    p50: dict[str, list[float]],
    p99: dict[str, list[float]],
    errors: Counter[str],
) -> None:
    p50[name].append(result.percentile_ms(0.5) or float("nan"))
    p99[name].append(result.percentile_ms(0.99) or float("nan"))
    errors[name] += (
        result.late
        + result.errors
        + sum(count for status, count in result.statuses.items() if status != 200)
    )


def soak(
    services: Services, *, capacity: float, overload: float, seconds: float, rate: float | None
) -> dict[str, Any]:
    """``seconds`` of ``overload`` times ``capacity``, impatient clients among them; then normal
    service within the deadline.

    A Python generator cannot offer five times what the service serves from the same two cores,
    so the flood is wrk's: ``overload`` times the in-flight bound in connections, each request
    with the deadline (wrk's ``--timeout``: a request not answered in time counts as a timeout).
    Alongside, the open-loop generator sends ``rate`` requests a second (``capacity`` capped at
    ``IMPATIENT_MAX_RATE``), a fifth of whose clients hang up early, and checks every status.
    """
    headers = _service_headers(services.miss, services.ticket_secret)
    url = services.miss.url + SERVICE_PATH
    impatient = rate if rate is not None else min(capacity, IMPATIENT_MAX_RATE)
    connections = max(1, round(overload * MAX_IN_FLIGHT))
    print(
        f"soak: {seconds:.0f} s: wrk on {connections} connections, plus {impatient:.0f} req/s of"
        " which 20% hang up early",
        flush=True,
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        flood = pool.submit(
            wrk,
            url,
            headers,
            seconds=round(seconds),
            connections=connections,
            threads=2,
            timeout=SOAK_DEADLINE,
        )
        overload_run = uvloop.run(
            open_loop(
                url,
                headers,
                rate=impatient,
                seconds=seconds,
                deadline=SOAK_DEADLINE,
                disconnect_share=0.2,
            )
        )
        flooded = flood.result()
    stopped = time.monotonic()
    ready = _ready_again(services.miss.url)
    recovery_s = time.monotonic() - stopped
    after = uvloop.run(open_loop(url, headers, rate=50, seconds=5, deadline=SOAK_DEADLINE))
    during = overload_run.summary()
    recovered = after.summary()
    offered = flooded.requests_per_second + overload_run.achieved_rate
    flood_summary = {
        "connections": connections,
        "requests": flooded.requests,
        "req_per_s": flooded.requests_per_second,
        "non_2xx": flooded.non_2xx,
        "timeouts": flooded.timeouts,
        "socket_errors": flooded.socket_errors,
        "p50_ms": flooded.latency_p50_ms,
        "p99_ms": flooded.latency_p99_ms,
        "max_ms": flooded.max_ms,
    }
    passed = (
        flooded.socket_errors == 0  # timeouts included: every request answered in time
        and overload_run.late == 0
        and overload_run.errors == 0
        and set(overload_run.statuses) <= {200, 503}
        and ready.status_code == 200
        and after.late == 0
        and after.errors == 0
        and set(after.statuses) == {200}
    )
    print(f"soak: flood {json.dumps(flood_summary)}", flush=True)
    print(f"soak: impatient clients {json.dumps(during)}", flush=True)
    print(
        f"soak: answered {offered:.0f} req/s, {offered / capacity:.1f} times capacity;"
        f" readyz {ready.status_code} {recovery_s:.2f} s after the load stopped;"
        f" then {json.dumps(recovered)}",
        flush=True,
    )
    return {
        "capacity": capacity,
        "overload": overload,
        "answered_x_capacity": round(offered / capacity, 2),
        "seconds": seconds,
        "deadline_s": SOAK_DEADLINE,
        "flood": flood_summary,
        "during": during,
        "readyz_after": ready.status_code,
        "recovery_s": round(recovery_s, 2),
        "after": recovered,
        "passed": passed,
    }


def _ready_again(url: str) -> httpx.Response:
    """``/readyz`` once it answers 200, or its last answer after ``RECOVERY_SECONDS``."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    with httpx.Client(trust_env=False, timeout=SOAK_DEADLINE) as client:
        while True:
            try:
                ready = client.get(url + "/readyz")
            except httpx.HTTPError:
                ready = httpx.Response(599)
            if ready.status_code == 200 or time.monotonic() > deadline:
                return ready
            time.sleep(0.1)


def startup_times(extra_env: dict[str, str], *, lifetime: float, runs: int = 3) -> list[float]:
    """Seconds from process start to the first ``/healthz`` 200, for ``runs`` cold starts."""
    import secrets  # noqa: PLC0415

    times = []
    for _ in range(runs):
        settings = service_settings("http://127.0.0.1:9", secrets.token_urlsafe(32))
        server, took = _start("service", settings, extra_env, lifetime)
        stop_server(server)
        times.append(took)
    return times


def profile(
    found: list[Target], name: str, server: Server, services: Services, seconds: int = 10
) -> dict[str, Any]:
    """py-spy samples of ``server`` while wrk drives the variant ``name``: what costs the most."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    target = next(t for t in found if t.name == name)
    target.headers = _service_headers(server, services.ticket_secret)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "profile.txt"
        sampler = subprocess.Popen(  # noqa: S603 - py-spy from this venv, our own child's pid
            [
                spy,
                "record",
                "--pid",
                str(server.process.pid),
                "--duration",
                str(seconds),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)
        wrk(target.url, target.headers, seconds=seconds - 1)
        _, stderr = sampler.communicate(timeout=seconds + 30)
        if not raw.exists():
            return {"error": stderr.decode(errors="replace")[-500:]}
        return summarize_profile(raw.read_text())


def summarize_profile(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares of functions in py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return {"samples": 0}

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "self_pct": share(own), "inclusive_pct": share(inclusive)}


def _frame_name(frame: str) -> str:
    """``func (path/to/module.py:12)`` as ``func (package/module.py)``."""
    function, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else path
    return f"{function} ({short})"


# -- reporting -----------------------------------------------------------------------------------


def verdicts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    variants = report["variants"]
    found: dict[str, dict[str, Any]] = {}
    miss, upstream = variants["miss"], variants["upstream"]
    added = miss["p50_ms_median"] - upstream["p50_ms_median"]
    found["added_p50_ms"] = {"value": round(added, 3), "met": added <= TARGETS["added_p50_ms"]}
    sustain_errors = sum(
        run["late"] + run["errors"] + sum(n for s, n in run["statuses"].items() if int(s) != 200)
        for run in report["sustain"]
    )
    found["sustain_500"] = {
        "value": f"{sustain_errors} errors; p99 "
        + ", ".join(f"{run['p99_ms']:.1f}" for run in report["sustain"] if run["p99_ms"])
        + " ms",
        "met": sustain_errors == 0,
    }
    ratio = miss["wrk_rps_median"] / variants["naive"]["wrk_rps_median"]
    found["naive_ratio"] = {"value": round(ratio, 2), "met": ratio >= TARGETS["naive_ratio"]}
    if "cached" in variants:
        cached = variants["cached"]["wrk_rps_median"] / variants["healthz"]["wrk_rps_median"]
        found["cached_of_healthz"] = {
            "value": round(cached, 2),
            "met": cached >= TARGETS["cached_of_healthz"],
        }
    rss = report["rss_mb"]["miss_peak"]
    found["rss_mb"] = {"value": round(rss, 1), "met": rss <= TARGETS["rss_mb"]}
    startup = statistics.median(report["startup_s"])
    found["startup_s"] = {"value": round(startup, 2), "met": startup <= TARGETS["startup_s"]}
    if "soak" in report:
        found["overload"] = {"value": report["soak"]["during"], "met": report["soak"]["passed"]}
    return found


def print_report(report: dict[str, Any]) -> None:
    print()
    print(
        f"{'variant':<13}{'wrk req/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}   per round req/s"
    )
    for name, row in report["variants"].items():
        rounds = ", ".join(f"{value:.0f}" for value in row["wrk_rps_rounds"])
        print(
            f"{name:<13}{row['wrk_rps_median']:>11.0f}{row['p50_ms_median']:>9.2f}"
            f"{row['p99_ms_median']:>9.2f}{row['errors']:>8}   {rounds}"
        )
    for name, reason in report["skipped"].items():
        print(f"{name:<13} skipped: {reason}")
    print()
    for name, verdict in report["verdicts"].items():
        print(f"{'met    ' if verdict['met'] else 'NOT MET'} {name}: {verdict['value']}")
    for variant, sampled in report.get("profile", {}).items():
        if not sampled.get("samples"):
            continue
        print(f"\nprofile of {variant} under wrk ({sampled['samples']} samples), self %:")
        for name, pct in sampled["self_pct"]:
            print(f"  {pct:5.1f}  {name}")
        print("inclusive %:")
        for name, pct in sampled["inclusive_pct"]:
            print(f"  {pct:5.1f}  {name}")


def machine() -> dict[str, Any]:
    versions = {}
    for package in (
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httpx",
        "aiohttp",
        "httpx-aiohttp",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run and per open loop")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop latency rate")
    parser.add_argument("--sustain-rate", type=float, default=500.0)
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--overload", type=float, default=5.0, help="soak rate / capacity")
    parser.add_argument("--soak-only", action="store_true")
    parser.add_argument("--soak-rate", type=float, default=None, help="with --soak-only")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="adds miss_baseline and cached_baseline: the reads served by the code in this "
        "directory, e.g. main's "
        "(git archive main | tar -x -C DIR)",
    )
    parser.add_argument(
        "--redis-url",
        help="adds miss_redis: the miss with sessions in this Redis (its own key prefix)",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="BFF_NAME=VALUE",
        help="a setting for the service under test (repeatable), e.g. a raised budget",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    # SIGTERM as an exception, so that what this process started (nginx) is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    extra_env = dict(item.split("=", 1) for item in args.service_env)
    if any(not name.startswith("BFF_") for name in extra_env):
        parser.error("--service-env takes BFF_ settings only")
    ensure_tools("nginx", "wrk")
    command = shlex.join([Path(sys.executable).name, "-m", "bench.hotpath", *sys.argv[1:]])
    print(f"$ {command}", flush=True)
    if args.soak_only:
        lifetime = args.soak_seconds + 120
        with running_services(extra_env, lifetime, with_naive=False) as services:
            headers = _service_headers(services.miss, services.ticket_secret)
            measured = wrk(services.miss.url + SERVICE_PATH, headers, seconds=3)
            result = soak(
                services,
                capacity=measured.requests_per_second,
                overload=args.overload,
                seconds=args.soak_seconds,
                rate=args.soak_rate,
            )
        report: dict[str, Any] = {"soak": result, "machine": machine(), "command": command}
        if args.json:
            args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
        return 0 if result["passed"] else 1
    report = measure(args, extra_env)
    report["verdicts"] = verdicts(report)
    report["machine"] = machine()
    report["command"] = command
    report["args"] = {
        key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
    }
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    sys.exit(main())
