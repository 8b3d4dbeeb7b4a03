from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's or CI's BFF_* variables."""
    for name in list(os.environ):
        if name.startswith("BFF_"):
            monkeypatch.delenv(name)
