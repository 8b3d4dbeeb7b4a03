"""The soak, short form: overload with impatient clients, then normal service (no wedge).

``python -m bench.hotpath --soak-only --soak-seconds 20``: 20 s at five times what wrk measures the
proxied read at, a fifth of the clients hanging up early; then ``/readyz`` must answer 200 and
reads at a normal rate must all be served. How fast anything is stays the benchmark's business
(bench/RESULTS.md): this test asserts the outcome, answers and recovery, never a latency.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.nginx import TOOLS, _which

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_after_overload_with_clients_hanging_up_the_service_serves_normally(
    tmp_path: Path,
) -> None:
    missing = [name for name in TOOLS if _which(name) is None]
    if missing:
        pytest.skip(f"needs {missing} from Debian (scripts/install installs them)")
    report_path = tmp_path / "soak.json"
    command = [
        sys.executable, "-m", "bench.hotpath", "--soak-only", "--soak-seconds", "20",
        "--json", str(report_path),
    ]  # fmt: skip
    finished = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )

    assert report_path.exists(), finished.stdout + finished.stderr
    soak = json.loads(report_path.read_text(encoding="utf-8"))["soak"]
    during, after = soak["during"], soak["after"]
    assert during["sent"] > 0
    assert during["errors"] == 0, during  # nothing reset or malformed: served, refused or late
    assert set(during["statuses"]) <= {"200", "503"}, during
    assert during["hung_up"] > 0  # the disconnecting clients were there
    assert soak["readyz_after"] == 200, soak
    assert after["statuses"] == {"200": after["sent"]}, after  # every read served again
