"""The quota-efficiency benchmark runs end to end with tiny numbers, and its figures add up.

Not how well the service does (that is the benchmark's business, recorded in bench/RESULTS.md),
only that the harness runs: replicas, Redis, two sandboxes, both variants, both scenarios, and
that what the users saw agrees with what the sandbox counted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.redis import in_ci

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)  # five servers start on a small, shared machine
def test_quota_efficiency_completes_and_its_figures_add_up(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        message = "the benchmark starts its own redis-server, which is not installed"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    report_path, table_path = tmp_path / "report.json", tmp_path / "table.md"
    command = [
        sys.executable, "-m", "bench.quota_efficiency",
        "--app-users", "12", "--shared-users", "3", "--duration", "5",
        # A small bucket, so that the run meets meetergo's limit within seconds.
        "--sandbox-rate", "60", "--sandbox-burst", "12",
        "--label", "smoke", "--json", str(report_path), "--markdown", str(table_path),
    ]  # fmt: skip
    finished = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=280, check=False
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert "-m bench.quota_efficiency --app-users 12" in report["command"]
    assert set(report["scenarios"]) == {"A", "B"}
    assert report["scenarios"]["B"]["scenario"]["meetergo_users"] == 3
    for name, scenario in report["scenarios"].items():
        theory = scenario["theory"]
        assert 0 < theory["max_useful"] <= theory["requests"], name
        # burst + 60 a minute over the run's span (the plan's 5 s, or longer if the users ran late)
        assert theory["span"] >= 4
        assert theory["budget_calls"] == int(12 + theory["span"])
        direct = scenario["variants"]["direct"]
        # Without the service every user request is one call to meetergo, and every 429 the
        # users saw is one the sandbox counted.
        assert direct["upstream"]["calls"] == direct["user_requests_sent"], name
        refused = direct["reads"]["429"] + direct["writes"]["429"]
        assert direct["upstream"]["rate_limited_429"] == refused > 0, name
        for variant, figures in scenario["variants"].items():
            writes = figures["writes"]
            assert writes["applied"] <= writes["planned"], (name, variant)
            assert 0 < figures["useful_answers"] <= theory["max_useful"], (name, variant)
            assert figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"], (name, variant)
            assert figures["upstream"]["max_calls_in_any_60s"] == figures["upstream"]["calls"]
    table = table_path.read_text(encoding="utf-8")
    assert "| | A direct | A service | B direct | B service |" in table
    assert "share of the theoretical max" in table
    assert table.strip() in finished.stdout
