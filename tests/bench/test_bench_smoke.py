"""The proxy-overhead benchmark runs end to end with tiny numbers and reports every variant.

Only that it completes and that its numbers are well-formed: never how fast anything is (timings
on a shared machine are not a test's business; see bench/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VARIANTS = {"direct", "service", "healthz"}


def test_proxy_overhead_completes_and_reports_every_variant(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    command = [
        sys.executable,
        "-m",
        "bench.proxy_overhead",
        "--requests", "20",
        "--rounds", "1",
        "--warmup", "5",
        "--max-seconds", "30",
        "--json", str(report_path),
    ]  # fmt: skip
    finished = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert not report["truncated"]
    assert report["rounds_completed"] == 1
    assert "-m bench.proxy_overhead --requests 20 --rounds 1" in report["command"]
    assert set(report["variants"]) == VARIANTS
    for name, row in report["variants"].items():
        assert row["requests"] == 20, name
        assert row["errors"] == 0, name
        assert 0 < row["median_ms"] <= row["p90_ms"] <= row["p99_ms"], (name, row)
        assert row["throughput_rps"] > 0, name
        assert name in finished.stdout
    for name, ratio in report["ratios"].items():
        assert ratio is not None, name
        assert ratio["median"] > 0, name
        assert ratio["p90"] > 0, name


def test_added_latency_completes_and_reports_each_round() -> None:
    command = [sys.executable, "-m", "bench.added_latency", "--rounds", "2", "--seconds", "1"]
    finished = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert len(summary["added_p50_ms_rounds"]) == 2
    assert isinstance(summary["added_p50_ms_median"], float)
