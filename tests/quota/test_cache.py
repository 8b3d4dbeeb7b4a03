"""The read cache and coalescing, black box: replicas on real sockets, the sandbox's log.

What a user sees (the body, ``Cache-Status``, ``Age``) and what meetergo sees (how many calls)
are both checked; the in-process variant (no Redis, one replica) runs the same reads.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from app.quota.window import WINDOW_SECONDS
from sandbox.seed import ALICE_ID
from tests.proxy.support import SandboxAdmin, assert_problem
from tests.quota.support import Replica, gather, reached, replicas, statuses

WINDOW = int(WINDOW_SECONDS)  # the longest honest Retry-After the budget can give


def _read(replica: Replica, path: str = "/connections", user: str = "alice") -> Any:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await replica.call(client, user, "GET", path)

    return call


def _one(replica: Replica, path: str = "/connections") -> httpx.Response:
    return gather(_read(replica, path))[0]


def _connections(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["connections"]
    return listed


@pytest.fixture(params=["redis", "memory"])
def backend(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    from tests.support.redis import redis_url_or_skip  # noqa: PLC0415 - only the Redis variant

    return redis_url_or_skip()


def test_a_fresh_read_is_served_from_the_cache_with_its_age(
    sandbox: SandboxAdmin, backend: str | None
) -> None:
    sandbox.connect("alice@example.com")
    with replicas(1, sandbox.url, backend) as (replica,):
        replica.login("alice", ALICE_ID)
        first = _one(replica)
        assert first.headers["cache-status"] == "meetergo-bff; fwd=miss; stored"
        assert "age" not in first.headers
        time.sleep(1.1)
        second = _one(replica)
    assert second.content == first.content
    assert second.headers["cache-status"].startswith("meetergo-bff; hit; ttl=")
    assert int(second.headers["age"]) >= 1
    assert reached(sandbox.requests(), "/connections") == 1


def test_100_concurrent_identical_reads_make_one_upstream_call(
    sandbox: SandboxAdmin, backend: str | None
) -> None:
    sandbox.connect("alice@example.com")
    count = 3 if backend else 1
    sandbox.faults(latency_ms=300)  # every read is in flight while the others arrive
    with replicas(count, sandbox.url, backend) as running:
        for replica in running:
            replica.login("alice", ALICE_ID)
        sandbox.clear_log()
        answers = gather(*(_read(running[i % count]) for i in range(100)))
    assert statuses(answers) == {200: 100}
    assert len({answer.content for answer in answers}) == 1
    assert reached(sandbox.requests(), "/connections") == 1
    kinds = [a.headers["cache-status"] for a in answers]
    assert kinds.count("meetergo-bff; fwd=miss; stored") == 1
    assert all(
        k == "meetergo-bff; fwd=miss; stored" or "collapsed" in k or "hit" in k for k in kinds
    )


@pytest.mark.redis
def test_a_write_invalidates_the_users_reads_on_every_replica(
    sandbox: SandboxAdmin, redis_url: str
) -> None:
    connection_id = sandbox.connect("alice@example.com")
    calendars = f"/connections/{connection_id}/calendars"
    with replicas(3, sandbox.url, redis_url) as running:
        for replica in running:
            replica.login("alice", ALICE_ID)
        for replica in running[:2]:
            assert _connections(_one(replica))[0]["validateAvailability"] is True
            assert _one(replica, calendars).status_code == 200

        async def patch(client: httpx.AsyncClient) -> httpx.Response:
            return await running[2].call(
                client,
                "alice",
                "PATCH",
                f"/connections/{connection_id}",
                json={"validateAvailability": False},
            )

        assert gather(patch)[0].status_code == 200
        sandbox.clear_log()
        after = [_one(replica) for replica in running[:2]]
        assert [_connections(a)[0]["validateAvailability"] for a in after] == [False, False]
        assert after[0].headers["cache-status"] == "meetergo-bff; fwd=miss; stored"
        assert after[1].headers["cache-status"].startswith("meetergo-bff; hit")
        assert _one(running[1], calendars).headers["cache-status"].endswith("stored")
    # One fetch refilled the cache for both replicas; the calendars were dropped with the rest.
    assert reached(sandbox.requests(), "/connections") == 1
    assert reached(sandbox.requests(), "/calendars") == 1


def test_stale_if_error_up_to_the_maximum_staleness(
    sandbox: SandboxAdmin, backend: str | None
) -> None:
    sandbox.connect("alice@example.com")
    with replicas(1, sandbox.url, backend, cache_ttl=1, cache_max_stale=2) as (replica,):
        replica.login("alice", ALICE_ID)
        fresh = _one(replica)
        time.sleep(1.2)
        sandbox.faults(error_rate=1, error_statuses=[503])
        stale = _one(replica)
        assert stale.status_code == 200
        assert stale.content == fresh.content
        status = stale.headers["cache-status"]
        assert status.startswith("meetergo-bff; fwd=stale; fwd-status=503; ttl=-"), status
        assert "stale-if-error" in status
        assert int(stale.headers["age"]) >= 1
        time.sleep(2.0)  # past freshness plus the maximum staleness: an error, honestly
        assert_problem(_one(replica), 502, "upstream_unavailable")


def test_a_spent_budget_serves_the_stale_copy_instead_of_refusing(
    sandbox: SandboxAdmin, backend: str | None
) -> None:
    sandbox.connect("alice@example.com")
    with replicas(
        1,
        sandbox.url,
        backend,
        cache_ttl=1,
        budget_per_minute=4,
        budget_write_reserve=1,
        budget_refresh_reserve=0,
        budget_per_user_per_minute=0,
        budget_max_wait=0,
    ) as (replica,):
        replica.login("alice", ALICE_ID)
        fresh = _one(replica)
        for n in range(2):  # spend the rest of what reads may use
            assert _one(replica, f"/connections/c-{n}/calendars").status_code == 404
        time.sleep(1.2)
        sandbox.clear_log()
        stale = _one(replica)
        assert stale.content == fresh.content
        assert stale.headers["cache-status"].startswith("meetergo-bff; hit; ttl=-")
        assert "stale-budget-spent" in stale.headers["cache-status"]
        # Nothing cached for this one: refused with the real wait, not a guess.
        refused = _one(replica, "/connections/c-9/calendars")
        assert_problem(refused, 429, "upstream_rate_limited")
        assert 50 <= int(refused.headers["retry-after"]) <= WINDOW
    assert sandbox.requests() == []


def test_cache_ttl_zero_turns_caching_off(sandbox: SandboxAdmin) -> None:
    sandbox.connect("alice@example.com")
    with replicas(1, sandbox.url, None, cache_ttl=0) as (replica,):
        replica.login("alice", ALICE_ID)
        answers = [_one(replica) for _ in range(3)]
    assert [a.headers["cache-status"] for a in answers] == ["meetergo-bff; fwd=miss"] * 3
    assert reached(sandbox.requests(), "/connections") == 3


def test_reads_are_cached_per_meetergo_user(sandbox: SandboxAdmin) -> None:
    sandbox.connect("alice@example.com")
    with replicas(1, sandbox.url, None) as (replica,):
        replica.login("alice", ALICE_ID)
        replica.login("bob", "22222222-2222-4222-8222-222222222222")
        alices = gather(_read(replica))[0]
        bobs = gather(_read(replica, user="bob"))[0]
    assert len(_connections(alices)) == 1
    assert _connections(bobs) == []
    assert bobs.headers["cache-status"].endswith("stored")


def test_a_broken_body_is_never_cached(sandbox: SandboxAdmin, backend: str | None) -> None:
    """meetergo's 200 with a body that is not JSON is refused, and the next read asks again."""
    sandbox.connect("alice@example.com")
    with replicas(1, sandbox.url, backend) as (replica,):
        replica.login("alice", ALICE_ID)
        sandbox.faults(malformed_json=True, times=1)
        broken = _one(replica)
        again = _one(replica)
    assert_problem(broken, 502, "upstream_bad_response")
    assert again.headers["cache-status"] == "meetergo-bff; fwd=miss; stored"
    assert len(_connections(again)) == 1
    assert reached(sandbox.requests(), "/connections") == 2
