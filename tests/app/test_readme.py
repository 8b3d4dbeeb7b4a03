"""The README's promises hold: its examples run as written.

The Python and Node.js minting snippets produce tickets the service accepts; the shell examples
run, line for line, against ``meetergo-bff demo`` started on free ports (the README's ports are
swapped for them), and print what their comments say.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support.settings import TICKET_SECRET, make_settings

ALICE = "11111111-1111-4111-8111-111111111111"
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _python_snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    minting = [block for block in blocks if "def calendar_ticket" in block]
    assert len(minting) == 1, "the README has one Python minting snippet"
    return minting[0]


def test_python_minting_snippet_starts_a_session() -> None:
    namespace: dict[str, object] = {}
    exec(compile(_python_snippet(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    calendar_ticket = namespace["calendar_ticket"]
    assert callable(calendar_ticket)
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        # Minted once the service runs, and in a later second than its state epoch began: the
        # snippet writes whole seconds, and a ticket of the epoch's own second is refused.
        time.sleep(1.0 - time.time() % 1.0)
        ticket = calendar_ticket(
            "readme-user", "11111111-1111-4111-8111-111111111111", TICKET_SECRET
        )
        response = client.post(
            "/auth/session",
            json={"ticket": ticket},
            headers={"X-CSRF": "1", "Origin": "https://bff.test"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["appUserId"] == "readme-user"
    assert response.json()["meetergoUserMapped"] is True


def test_readme_names_one_demo_command_and_one_test_command() -> None:
    assert (
        "| **run the demo** (service + meetergo sandbox, no account needed) | `./scripts/demo` |"
        in README
    )
    assert (
        "| **run the tests** (installs everything first when needed) | `./scripts/test` |" in README
    )
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci


# -- the README's shell and Node.js examples, run for real ----------------------------------------

ROOT = Path(__file__).resolve().parents[2]
NODE_PROJECT = ROOT / "tests" / "readme"
IN_CI = os.environ.get("CI") == "true"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """``meetergo-bff demo`` as the README starts it, on free ports, in its own process."""
    service_port, sandbox_port = _free_port(), _free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BFF_", "SANDBOX_"))}
    command = [
        str(Path(sys.executable).with_name("meetergo-bff")),
        "demo",
        "--port",
        str(service_port),
        "--sandbox-port",
        str(sandbox_port),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()[-4000:]
            try:
                if httpx.get(f"http://localhost:{service_port}/readyz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.2)
        yield service_port, sandbox_port
    finally:
        process.terminate()
        process.wait(timeout=40)


def _on_ports(block: str, ports: tuple[int, int]) -> str:
    return block.replace("localhost:8000", f"localhost:{ports[0]}").replace(
        "127.0.0.1:8001", f"127.0.0.1:{ports[1]}"
    )


def test_readme_shell_examples_run_against_the_demo_as_written(
    demo: tuple[int, int], tmp_path: Path
) -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    assert blocks, "the README has shell examples"
    # The folder stands for a checkout of this repository: the install example packs clients/js.
    (tmp_path / "clients").symlink_to(ROOT / "clients")
    for block in blocks:
        assert "..." not in block.replace('..."', "").split("#")[0]  # nothing left to fill in
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _on_ports(block, demo)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        output = done.stdout
        # What the comments promise is what came out: each problem code, each status line.
        promised = re.findall(r'^# .*"code":"(\w+)"', block, flags=re.MULTILINE)
        for code in promised:
            assert f'"code":"{code}"' in output, (code, output)
        for status in re.findall(r"^# (\d{3})\b", block, flags=re.MULTILINE):
            assert re.search(rf"^{status}$", output, flags=re.MULTILINE), (status, output)
        if "auth/session" in block:
            assert output.count('"appUserId":"alice"') == 2, output  # login and /auth/me
            assert '{"connections":[],"total":0}' in output
            assert promised == ["ticket_replayed", "session_revoked"]


def test_node_minting_snippet_starts_a_session() -> None:
    node = shutil.which("node")
    if node is None or not (NODE_PROJECT / "node_modules" / "jose").is_dir():
        reason = "node or tests/readme/node_modules (scripts/install runs npm ci) is missing"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    blocks = re.findall(r"```js\n(.*?)```", README, flags=re.DOTALL)
    (snippet,) = [block for block in blocks if "calendarTicket" in block]
    program = (
        snippet
        + "\nconst [user, mid, secret] = process.argv.slice(1);\n"
        + "console.log(await calendarTicket(user, mid, secret));\n"
    )
    with TestClient(create_app(make_settings()), base_url="https://bff.test") as client:
        # Minted once the service runs, in a later second than its state epoch began (the
        # snippet writes whole seconds, and a ticket of the epoch's own second is refused).
        time.sleep(1.0 - time.time() % 1.0)
        done = subprocess.run(
            [node, "--input-type=module", "-e", program, "node-user", ALICE, TICKET_SECRET],
            cwd=NODE_PROJECT,  # where "jose" resolves, from the committed package-lock.json
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        response = client.post(
            "/auth/session",
            json={"ticket": done.stdout.strip()},
            headers={"X-CSRF": "1", "Origin": "https://bff.test"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["appUserId"] == "node-user"
    assert response.json()["meetergoUserMapped"] is True
