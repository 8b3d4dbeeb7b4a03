"""Redis stopped and started empty mid-test: no crash, no burst, the budget still counts."""

from __future__ import annotations

import uuid

import httpx
import pytest

from sandbox.seed import ALICE_ID
from tests.proxy.support import SandboxAdmin
from tests.quota.support import Replica, gather, reached, replicas, statuses
from tests.support.redis import OwnRedis

pytestmark = pytest.mark.redis


def _reads(replica: Replica, count: int) -> list[httpx.Response]:
    def read() -> object:
        async def call(client: httpx.AsyncClient) -> httpx.Response:
            path = f"/connections/c-{uuid.uuid4().hex[:10]}/calendars"
            return await replica.call(client, "alice", "GET", path)

        return call

    return gather(*(read() for _ in range(count)))


def test_a_redis_restart_neither_crashes_nor_refills_the_budget(sandbox: SandboxAdmin) -> None:
    with (
        OwnRedis() as server,
        replicas(
            2,
            sandbox.url,
            server.url,
            budget_per_minute=10,
            budget_write_reserve=2,
            budget_refresh_reserve=0,
            budget_per_user_per_minute=0,
            budget_max_wait=0,
        ) as running,
    ):
        for replica in running:
            replica.login("alice", ALICE_ID)
        assert statuses(_reads(running[0], 3) + _reads(running[1], 2)) == {404: 5}
        server.stop()
        down = _reads(running[0], 3)
        # Sessions cannot be checked without Redis: refused at once, fail closed.
        assert statuses(down) == {503: 3}
        assert all(a.headers["content-type"] == "application/problem+json" for a in down)
        server.start()  # empty: the budget's log is gone
        for replica in running:
            # A Redis that lost its data logs everyone out. The first command on each pooled
            # connection to the old server fails (503) before the pool replaces it.
            replica.login("alice", ALICE_ID, attempts=3)
        # Each replica writes back its calls of the last minute once it notices the loss (a
        # failed call, or its own calls missing from the log). Here both have made a call.
        after = _reads(running[1], 1) + _reads(running[0], 4) + _reads(running[1], 4)
    # Reads still stop at 10 - 2 in the window: the restart handed out nothing twice.
    assert statuses(after) == {404: 3, 429: 6}
    assert reached(sandbox.requests(), "/calendars") == 8
