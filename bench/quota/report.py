"""Figures per variant from the users' outcomes, the sandbox's traffic and its final state."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from bench.quota.theory import Bound
from bench.quota.users import Outcome
from bench.quota.workload import Action, AppUser

READ_KINDS = ("list", "calendars")
WRITE_KINDS = ("patch", "primary", "delete")


def percentile(ordered: list[float], q: float) -> float | None:
    """The q-th percentile of sorted values, interpolated linearly between the closest ranks."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def applied(action: Action, user: AppUser, state: dict[str, Any]) -> bool:
    """Whether the sandbox's final state shows the write ``action`` done."""
    connections: list[dict[str, Any]] = state["users"].get(user.meetergo_user_id, [])
    target = next((c for c in connections if c["id"] == action.target), None)
    if action.kind == "patch":
        body = action.body or {}
        return (
            target is not None
            and target["selectedCalendars"] == body["selectedCalendars"]
            and target["validateAvailability"] is body["validateAvailability"]
        )
    if action.kind == "primary":
        return target is not None and target["isPrimary"] is True
    if action.kind == "delete":
        return target is None
    email = (action.body or {})["email"]
    return any(c["email"] == email for c in connections)


def _answers(outcomes: list[Outcome]) -> dict[str, Any]:
    results = Counter(outcome.result for outcome in outcomes)
    # 503 too: before the budget, the service reported meetergo's 429 as upstream_rate_limited 503.
    retry_after = [o.retry_after for o in outcomes if o.status in (429, 503)]
    seconds = sorted(float(v) for v in retry_after if v is not None and _number(v))
    return {
        "total": len(outcomes),
        "fresh": results["fresh"] + results["hit"],
        "fresh_from_cache": results["hit"],
        "stale": results["stale"],
        "429": results["429"],
        "429_with_retry_after": sum(
            o.retry_after is not None for o in outcomes if o.result == "429"
        ),
        "429_or_503_with_retry_after": sum(v is not None for v in retry_after),
        "retry_after_seconds": {
            "min": seconds[0] if seconds else None,
            "median": statistics.median(seconds) if seconds else None,
            "max": seconds[-1] if seconds else None,
        },
        "5xx": results["5xx"],
        "other_4xx": results["4xx"],
        "transport_errors": results["error"],
        "codes": dict(Counter(o.code for o in outcomes if o.code and not o.ok).most_common()),
    }


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _writes(outcomes: list[Outcome], users: list[AppUser], state: dict[str, Any]) -> dict[str, Any]:
    by_index = {user.index: user for user in users}
    planned = [(a, by_index[a.app_user]) for u in users for a in u.actions if a.kind != "open"]
    answered: dict[tuple[int, str, str | None], Outcome] = {}
    for outcome in outcomes:
        if outcome.write:
            answered[(outcome.app_user, outcome.kind, outcome.target)] = outcome
    acknowledged = applied_count = lost = applied_unacknowledged = 0
    by_kind: dict[str, Counter[str]] = {}
    for action, user in planned:
        answer = answered.get((action.app_user, action.kind, action.target))
        done = applied(action, user, state)
        ok = answer is not None and answer.ok
        acknowledged += ok
        applied_count += done
        lost += ok and not done
        applied_unacknowledged += done and not ok
        kind = by_kind.setdefault(action.kind, Counter())
        kind["planned"] += 1
        kind["acknowledged"] += ok
        kind["applied"] += done
        kind["acknowledged_but_not_applied"] += ok and not done
        kind["applied_but_reported_failed"] += done and not ok
    return {
        "by_kind": {kind: dict(counts) for kind, counts in sorted(by_kind.items())},
        "planned": len(planned),
        "sent": sum(o.write for o in outcomes),
        "acknowledged": acknowledged,
        "applied": applied_count,
        "acknowledged_but_not_applied": lost,
        "applied_but_reported_failed": applied_unacknowledged,
    }


def variant_figures(
    outcomes: list[Outcome],
    users: list[AppUser],
    state: dict[str, Any],
    traffic: dict[str, Any],
    bound: Bound,
) -> dict[str, Any]:
    reads = [o for o in outcomes if o.kind in READ_KINDS]
    writes = [o for o in outcomes if o.write]
    latencies = sorted(o.latency for o in outcomes)
    write_figures = _writes(outcomes, users, state)
    useful_reads = sum(o.result in ("fresh", "hit") for o in reads)
    useful = (
        useful_reads + write_figures["acknowledged"] - write_figures["acknowledged_but_not_applied"]
    )
    reads_ok = sum(o.ok for o in reads)
    return {
        "user_requests_sent": len(outcomes),
        "reads": _answers(reads),
        "reads_succeeded_share": round(reads_ok / len(reads), 4) if reads else None,
        "writes": _answers(writes) | write_figures,
        "latency_ms": {
            "p50": _ms(percentile(latencies, 50)),
            "p99": _ms(percentile(latencies, 99)),
            "reads_p50": _ms(percentile(sorted(o.latency for o in reads), 50)),
            "reads_p99": _ms(percentile(sorted(o.latency for o in reads), 99)),
            "writes_p50": _ms(percentile(sorted(o.latency for o in writes), 50)),
            "writes_p99": _ms(percentile(sorted(o.latency for o in writes), 99)),
        },
        "upstream": {
            "calls": traffic["calls"],
            "rate_limited_429": traffic["rateLimited"],
            "statuses": traffic["statuses"],
            "max_calls_in_any_60s": traffic["maxInAnyWindow"]["calls"],
            "max_accepted_in_any_60s": traffic["maxInAnyWindow"]["accepted"],
            "per_minute": [
                {"start_s": w["start"], "calls": w["calls"], "rate_limited": w["rateLimited"]}
                for w in traffic["windows"]
            ],
        },
        "useful_answers": useful,
        "share_of_theoretical_max": round(useful / bound.max_useful, 4)
        if bound.max_useful
        else None,
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def markdown_table(scenarios: dict[str, dict[str, Any]]) -> str:
    """One column per scenario and variant, one row per figure."""
    columns: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    for name, scenario in scenarios.items():
        theory = scenario["theory"] | {
            "uncached": scenario["theory_without_cache"]["max_useful"],
            "budgeted": scenario.get("theory_within_budget", {}).get("max_useful"),
            "first_come": scenario.get("theory_first_come"),
        }
        for variant, figures in scenario["variants"].items():
            columns.append((name, variant, figures, theory))
    rows: list[tuple[str, Any]] = [
        ("user requests sent", lambda f, t: f["user_requests_sent"]),
        ("upstream calls", lambda f, t: f["upstream"]["calls"]),
        ("upstream calls, max in any 60 s", lambda f, t: f["upstream"]["max_calls_in_any_60s"]),
        ("upstream 429s", lambda f, t: f["upstream"]["rate_limited_429"]),
        ("reads: fresh (of which cached)", lambda f, t: _fresh(f["reads"])),
        ("reads: stale", lambda f, t: f["reads"]["stale"]),
        ("reads: 429 (with Retry-After)", lambda f, t: _refused(f["reads"])),
        ("reads: 5xx", lambda f, t: f["reads"]["5xx"]),
        ("reads: error codes", lambda f, t: _codes(f["reads"])),
        ("reads succeeded", lambda f, t: _share(f["reads_succeeded_share"])),
        ("writes: planned / acknowledged / applied", lambda f, t: _writes_cell(f["writes"])),
        ("writes: 429 (with Retry-After) / 5xx", lambda f, t: _write_refusals(f["writes"])),
        ("writes: error codes", lambda f, t: _codes(f["writes"])),
        ("writes acknowledged but not applied", lambda f, t: _lost(f["writes"])),
        (
            "writes applied but reported failed",
            lambda f, t: f["writes"]["applied_but_reported_failed"],
        ),
        ("Retry-After on 429/503: seconds min / median / max", lambda f, t: _retry(f)),
        ("latency p50 / p99 ms", lambda f, t: _latency(f["latency_ms"])),
        ("users behind plan p50 / max s", lambda f, t: _late(f.get("plan_lateness_s"))),
        ("useful answers", lambda f, t: f["useful_answers"]),
        ("user requests planned (all answered)", lambda f, t: t["requests"]),
        ("theoretical max of useful answers", lambda f, t: t["max_useful"]),
        ("(the same without any cache)", lambda f, t: t["uncached"]),
        ("share of the theoretical max", lambda f, t: _share(f["share_of_theoretical_max"])),
        ("share of planned requests", lambda f, t: _share(f["useful_answers"] / t["requests"])),
        ("theoretical max within the service's budget", lambda f, t: t["budgeted"]),
        ("share of that", lambda f, t: _share(f.get("share_of_budget_max"))),
        ("the same, first come, first served (no foresight)", lambda f, t: t["first_come"]),
        ("share of that ", lambda f, t: _share(f.get("share_of_first_come_max"))),
    ]
    header = "| | " + " | ".join(f"{name} {variant}" for name, variant, _, _ in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for label, value in rows:
        cells = [_cell(value(figures, theory)) for _, _, figures, theory in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fresh(answers: dict[str, Any]) -> str:
    return f"{answers['fresh']} ({answers['fresh_from_cache']})"


def _refused(answers: dict[str, Any]) -> str:
    return f"{answers['429']} ({answers['429_with_retry_after']})"


def _codes(answers: dict[str, Any]) -> str:
    return ", ".join(f"{code} {count}" for code, count in answers["codes"].items()) or "-"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _writes_cell(writes: dict[str, Any]) -> str:
    return f"{writes['planned']} / {writes['acknowledged']} / {writes['applied']}"


def _write_refusals(writes: dict[str, Any]) -> str:
    return f"{writes['429']} ({writes['429_with_retry_after']}) / {writes['5xx']}"


def _lost(writes: dict[str, Any]) -> str:
    return str(writes["acknowledged_but_not_applied"])


def _retry(figures: dict[str, Any]) -> str:
    values = [figures["reads"]["retry_after_seconds"], figures["writes"]["retry_after_seconds"]]
    mins = [v["min"] for v in values if v["min"] is not None]
    maxes = [v["max"] for v in values if v["max"] is not None]
    medians = [v["median"] for v in values if v["median"] is not None]
    if not mins:
        return "-"
    return f"{min(mins):g} / {statistics.median(medians):g} / {max(maxes):g}"


def _late(lateness: dict[str, Any] | None) -> str:
    if not lateness or lateness["p50"] is None:
        return "-"
    return f"{lateness['p50']:.2f} / {lateness['max']:.1f}"


def _latency(latency: dict[str, Any]) -> str:
    return f"{_cell(latency['p50'])} / {_cell(latency['p99'])}"
