"""Fixtures: one shared default sandbox (reset before each test), and fresh ones on demand."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.support import (
    IsolatedSettings,
    Sandbox,
    StartSandbox,
    landing_app,
    running_sandbox,
)
from tests.support.servers import serve


@pytest.fixture(scope="session")
def landing_url() -> Iterator[str]:
    with serve(landing_app()) as server:
        yield server.url


@pytest.fixture(scope="session")
def shared_sandbox(landing_url: str) -> Iterator[Sandbox]:
    with running_sandbox(IsolatedSettings(), landing_url) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(shared_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The default sandbox, back to its seed: no connections, faults, log or spent tokens."""
    assert shared_sandbox.client().post("/_sandbox/reset").status_code == 204
    yield shared_sandbox
    shared_sandbox.close_clients()


@pytest.fixture
def start_sandbox(landing_url: str) -> Iterator[StartSandbox]:
    """Start a sandbox with these settings (keyword arguments of SandboxSettings)."""
    with contextlib.ExitStack() as stack:

        def start(**settings: Any) -> Sandbox:
            keep = "public_url" in settings
            return stack.enter_context(
                running_sandbox(IsolatedSettings(**settings), landing_url, keep_public_url=keep)
            )

        yield start
