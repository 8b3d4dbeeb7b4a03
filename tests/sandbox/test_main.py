"""``python -m sandbox``: prints the seed and serves on the configured port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sandbox.seed import ADMIN_KEY
from tests.support.servers import bind_ephemeral

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_sandbox_prints_the_seed_and_serves() -> None:
    with bind_ephemeral() as probe:
        port = probe.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")},
        "SANDBOX_PORT": str(port),
        "SANDBOX_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith(f"meetergo sandbox on http://127.0.0.1:{port}")
        summary = "".join(process.stdout.readline() for _ in range(3))
        assert "Acme Demo GmbH" in summary
        assert ADMIN_KEY in summary
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the sandbox did not start listening"
                time.sleep(0.05)
        assert response.json() == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
