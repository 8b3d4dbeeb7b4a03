"""The README's promises hold: its Python minting snippet produces a ticket the service accepts."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from tests.support.settings import TICKET_SECRET, make_settings

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
