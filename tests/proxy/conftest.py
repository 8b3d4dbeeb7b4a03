"""Fixtures of the proxy tests: one real sandbox per module, the real service in front of it.

Every test starts from the sandbox's seed (``POST /_sandbox/reset``: no connections, no faults,
full rate-limit buckets, an empty request log), so "the log is empty" after a refused call means
that nothing reached meetergo.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox.seed import ALICE_ID
from tests.proxy.support import Bff, SandboxAdmin, proxy_settings, running_bff, running_sandbox
from tests.support.servers import RunningServer

MakeBff = Callable[..., Bff]


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[RunningServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture(scope="module")
def sandbox_admin(sandbox_server: RunningServer) -> Iterator[SandboxAdmin]:
    admin = SandboxAdmin(sandbox_server.url)
    yield admin
    admin.close()


@pytest.fixture
def sandbox(sandbox_admin: SandboxAdmin) -> SandboxAdmin:
    """The module's sandbox, back to its seed."""
    sandbox_admin.reset()
    return sandbox_admin


@pytest.fixture(scope="module")
def _shared_bff(sandbox_server: RunningServer) -> Iterator[Bff]:
    with running_bff(proxy_settings(sandbox_server.url)) as bff:
        yield bff


@pytest.fixture
def bff(_shared_bff: Bff, sandbox: SandboxAdmin) -> Bff:
    """The service with the proxy tests' settings, signed in as Alice (mapped to ALICE_ID)."""
    del sandbox  # requested for its reset
    _shared_bff.extra_cookies.clear()
    return _shared_bff


@pytest.fixture
def make_bff(sandbox: SandboxAdmin) -> Iterator[MakeBff]:
    """A service of its own: ``make_bff(transport=..., meetergo_user_id=..., **settings)``."""
    with contextlib.ExitStack() as stack:

        def make(
            *,
            transport: httpx.AsyncBaseTransport | None = None,
            meetergo_user_id: str | None = ALICE_ID,
            **overrides: Any,
        ) -> Bff:
            settings = proxy_settings(sandbox.url, **overrides)
            return stack.enter_context(
                running_bff(settings, transport=transport, meetergo_user_id=meetergo_user_id)
            )

        yield make
