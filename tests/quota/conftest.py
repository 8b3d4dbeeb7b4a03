from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.proxy.support import SandboxAdmin, running_sandbox
from tests.support.redis import redis_url_or_skip


@pytest.fixture(scope="module")
def sandbox_admin() -> Iterator[SandboxAdmin]:
    """A sandbox whose own limit stays out of the way: these tests count the service's calls."""
    with running_sandbox(rate_limit_per_minute=100_000, rate_limit_burst=100_000) as server:
        admin = SandboxAdmin(server.url)
        yield admin
        admin.close()


@pytest.fixture
def sandbox(sandbox_admin: SandboxAdmin) -> SandboxAdmin:
    sandbox_admin.reset()
    return sandbox_admin


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()
