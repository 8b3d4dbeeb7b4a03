"""Fixtures of the contract tests: the contract, and real sandboxes over real sockets."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.app import create_sandbox_app, set_public_url
from sandbox.config import SandboxSettings
from tests.contract.sandbox_client import Sandbox
from tests.contract.upstream_contract import UpstreamContract
from tests.support.servers import serve


@pytest.fixture(scope="session")
def contract() -> UpstreamContract:
    return UpstreamContract()


@contextlib.contextmanager
def _running_sandbox(**settings: Any) -> Iterator[str]:
    # The sandbox as documented: a developer's SANDBOX_* variables (faults!) must not leak in.
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("SANDBOX_")]:
            patch.delenv(name)
        app = create_sandbox_app(SandboxSettings(**settings))
    with serve(app) as server:
        set_public_url(app, server.url)
        yield server.url


@contextlib.contextmanager
def _client_of(url: str) -> Iterator[Sandbox]:
    with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as client:
        sandbox = Sandbox(client)
        sandbox.reset()
        yield sandbox


@pytest.fixture(scope="module")
def _default_sandbox_url() -> Iterator[str]:
    with _running_sandbox() as url:
        yield url


@pytest.fixture(scope="module")
def _string_form_sandbox_url() -> Iterator[str]:
    with _running_sandbox(validation_message_form="string") as url:
        yield url


@pytest.fixture(scope="module")
def _legacy_results_sandbox_url() -> Iterator[str]:
    with _running_sandbox(result_params="legacy") as url:
        yield url


@pytest.fixture(scope="module")
def _small_bucket_sandbox_url() -> Iterator[str]:
    # A bucket of 3 that refills one token a minute: the 4th request in a row is over the limit.
    with _running_sandbox(rate_limit_burst=3, rate_limit_per_minute=1) as url:
        yield url


@pytest.fixture
def sandbox(_default_sandbox_url: str) -> Iterator[Sandbox]:
    """The sandbox as documented by default, back to its seed."""
    with _client_of(_default_sandbox_url) as sandbox:
        yield sandbox


@pytest.fixture
def string_form_sandbox(_string_form_sandbox_url: str) -> Iterator[Sandbox]:
    """Validation errors in meetergo's reference form: one message plus an errors list."""
    with _client_of(_string_form_sandbox_url) as sandbox:
        yield sandbox


@pytest.fixture
def legacy_results_sandbox(_legacy_results_sandbox_url: str) -> Iterator[Sandbox]:
    """Redirect results in the older spelling (connection_id, error=<message>)."""
    with _client_of(_legacy_results_sandbox_url) as sandbox:
        yield sandbox


@pytest.fixture
def small_bucket_sandbox(_small_bucket_sandbox_url: str) -> Iterator[Sandbox]:
    with _client_of(_small_bucket_sandbox_url) as sandbox:
        yield sandbox
