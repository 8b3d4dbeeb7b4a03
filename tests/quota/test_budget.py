"""The shared budget, black box: replicas on real sockets, one real Redis, the sandbox's log.

Each test counts what reached meetergo. Reads of unknown connections (404 from meetergo, never
cached) make every request a distinct upstream call, so the cache cannot hide the budget.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.quota.window import WINDOW_SECONDS
from sandbox.seed import ALICE_ID, BOB_ID
from tests.proxy.support import SandboxAdmin, assert_problem
from tests.quota.support import Replica, gather, reached, replicas, statuses

WINDOW = int(WINDOW_SECONDS)  # the longest honest Retry-After the budget can give

pytestmark = pytest.mark.redis


# A budget small enough to spend in a test: first reads stop at 12 - 2, writes at 12, no per-user
# share in the way, and no waiting (the 60 s window would not free a slot within a test).
TIGHT: dict[str, Any] = {
    "budget_per_minute": 12,
    "budget_write_reserve": 2,
    "budget_refresh_reserve": 2,
    "budget_per_user_per_minute": 0,
    "budget_max_wait": 0,
}


def _distinct_read(replica: Replica, user: str) -> Any:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await replica.call(
            client, user, "GET", f"/connections/c-{uuid.uuid4().hex[:12]}/calendars"
        )

    return call


def _retry_after(response: httpx.Response) -> int:
    value = response.headers["retry-after"]
    assert value.isdigit(), value
    return int(value)


def test_three_replicas_never_exceed_the_budget_together(
    sandbox: SandboxAdmin, redis_url: str
) -> None:
    with replicas(3, sandbox.url, redis_url, **TIGHT) as running:
        for replica in running:
            replica.login("alice", ALICE_ID)
        answers = gather(*(_distinct_read(running[i % 3], "alice") for i in range(36)))
    # First reads may use the budget up to its write reserve: 12 - 2 calls, all replicas together.
    assert reached(sandbox.requests(), "/calendars") == 10
    assert statuses(answers) == {404: 10, 429: 26}
    for refused in (a for a in answers if a.status_code == 429):
        assert_problem(refused, 429, "upstream_rate_limited")
        # The window frees its first slot a minute after the first call: an honest wait.
        assert 1 <= _retry_after(refused) <= WINDOW


def test_the_write_reserve_holds_under_a_read_flood(sandbox: SandboxAdmin, redis_url: str) -> None:
    with replicas(3, sandbox.url, redis_url, **TIGHT) as running:
        for replica in running:
            replica.login("alice", ALICE_ID)
        flood = gather(*(_distinct_read(running[i % 3], "alice") for i in range(30)))
        assert statuses(flood) == {404: 10, 429: 20}
        connection_id = sandbox.connect("alice@example.com")

        def write(replica: Replica) -> Any:
            async def call(client: httpx.AsyncClient) -> httpx.Response:
                return await replica.call(
                    client,
                    "alice",
                    "PATCH",
                    f"/connections/{connection_id}",
                    json={"validateAvailability": False},
                )

            return call

        writes = gather(write(running[1]), write(running[2]))
        assert [w.status_code for w in writes] == [200, 200]
        # The reserve is spent too now: a third write is refused honestly, never dropped.
        third = gather(write(running[0]))[0]
        assert_problem(third, 429, "upstream_rate_limited")
        assert 1 <= _retry_after(third) <= WINDOW
    patches = [e for e in sandbox.requests() if e["method"] == "PATCH"]
    assert len(patches) == 2


def test_one_users_flood_leaves_the_others_served(sandbox: SandboxAdmin, redis_url: str) -> None:
    with replicas(
        2, sandbox.url, redis_url, budget_per_user_per_minute=5, budget_max_wait=0
    ) as running:
        for replica in running:
            replica.login("flooder", ALICE_ID)
            replica.login("bob", BOB_ID)
        flood = gather(*(_distinct_read(running[i % 2], "flooder") for i in range(40)))
        assert statuses(flood) == {404: 5, 429: 35}
        for refused in (a for a in flood if a.status_code == 429):
            assert_problem(refused, 429, "rate_limited")
            assert 1 <= _retry_after(refused) <= WINDOW

        async def bobs_read(client: httpx.AsyncClient) -> httpx.Response:
            return await running[1].call(client, "bob", "GET", "/connections")

        assert gather(bobs_read)[0].status_code == 200
    assert reached(sandbox.requests(), "/calendars") == 5


def test_a_call_waits_briefly_for_budget_instead_of_failing(
    sandbox: SandboxAdmin, redis_url: str
) -> None:
    """A refused call's Retry-After is when a slot frees; one that fits its wait gets it."""
    with replicas(
        2,
        sandbox.url,
        redis_url,
        budget_per_minute=4,
        budget_write_reserve=1,
        budget_refresh_reserve=0,
        budget_per_user_per_minute=0,
        budget_max_wait=0,
    ) as running:
        running[0].login("alice", ALICE_ID)
        first = gather(*(_distinct_read(running[0], "alice") for _ in range(3)))
        assert statuses(first) == {404: 3}
        refused = gather(_distinct_read(running[0], "alice"))[0]
        assert_problem(refused, 429, "upstream_rate_limited")
        assert 55 <= _retry_after(refused) <= WINDOW
    with replicas(
        1,
        sandbox.url,
        None,
        budget_per_minute=4,
        budget_write_reserve=1,
        budget_refresh_reserve=0,
        budget_per_user_per_minute=0,
        budget_max_wait=5,
    ) as (replica,):
        replica.login("alice", ALICE_ID)
        answers = gather(*(_distinct_read(replica, "alice") for _ in range(4)))
        # Three go at once, the fourth would wait a minute: more than its 5 s, so refused now.
        assert statuses(answers) == {404: 3, 429: 1}


def test_an_upstream_429_pauses_every_replica(sandbox: SandboxAdmin, redis_url: str) -> None:
    with replicas(3, sandbox.url, redis_url, upstream_rate_limit_pause=30) as running:
        for replica in running:
            replica.login("alice", ALICE_ID)
        sandbox.faults(rate_limited=True, times=1)
        incident = gather(_distinct_read(running[0], "alice"))[0]
        assert_problem(incident, 429, "upstream_rate_limited")
        assert 29 <= _retry_after(incident) <= 30
        sandbox.clear_log()
        # The other replicas do not send meetergo a single call during the pause.
        others = gather(*(_distinct_read(running[i % 2 + 1], "alice") for i in range(6)))
        assert statuses(others) == {429: 6}
        assert all(25 <= _retry_after(a) <= 30 for a in others)
        assert sandbox.requests() == []
        metrics = running[0].app.state.metrics.exposition().decode()
        assert "bff_upstream_rate_limited_total 1.0" in metrics


def test_meetergos_retry_after_sets_the_pause(sandbox: SandboxAdmin, redis_url: str) -> None:
    with replicas(2, sandbox.url, redis_url) as running:
        for replica in running:
            replica.login("alice", ALICE_ID)
        sandbox.faults(rate_limited=True, retry_after=7, times=1)
        incident = gather(_distinct_read(running[0], "alice"))[0]
        assert_problem(incident, 429, "upstream_rate_limited")
        assert _retry_after(incident) == 7
        other = gather(_distinct_read(running[1], "alice"))[0]
        assert 5 <= _retry_after(other) <= 7
