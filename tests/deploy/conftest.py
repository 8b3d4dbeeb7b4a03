"""Shared by the deployment checks: where things are, and how a check that cannot run says so."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: takes tens of seconds (a fresh virtual environment); runs in CI too"
    )


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def cannot_run(reason: str) -> NoReturn:
    """Skip with the reason on a developer machine; fail under CI, where every check must run."""
    if in_ci():
        pytest.fail(f"cannot run under CI: {reason}")
    pytest.skip(reason)
