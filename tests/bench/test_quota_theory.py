"""The quota benchmark's plan and its theoretical maximum: what a perfect scheduler could serve."""

from __future__ import annotations

import httpx
import pytest

from bench.quota.theory import fetch_groups, first_come_maximum, theoretical_maximum
from bench.quota.users import classify
from bench.quota.workload import IdealRequest, Scenario, ideal_requests, plan
from sandbox.seed import generated_user_id, seeded_connections

ANN, BEN = "ann", "ben"


def read(time: float, user: str = ANN, key: str = "list") -> IdealRequest:
    return IdealRequest(time, user, False, key)


def write(time: float, user: str = ANN, *invalidates: str) -> IdealRequest:
    return IdealRequest(time, user, True, "patch", invalidates or ("list",))


def test_one_fetch_answers_every_read_of_the_same_thing_within_the_ttl() -> None:
    reads = [read(0), read(10), read(30), read(30.5), read(60.5), read(61)]
    assert fetch_groups(reads, ttl=30) == [3, 2, 1]
    assert fetch_groups(reads, ttl=0) == [1] * 6


def test_users_and_resources_are_fetched_separately() -> None:
    reads = [read(0), read(1, BEN), read(2, key="calendars:c1"), read(3)]
    assert sorted(fetch_groups(reads, ttl=30)) == [1, 1, 2]


def test_a_write_makes_what_it_changed_out_of_date_and_nothing_else() -> None:
    requests = [
        read(0),
        read(0, key="calendars:c1"),
        read(0, key="calendars:c2"),
        write(5, ANN, "list", "calendars:c1"),
        read(5),  # the SPA's refresh after the write: fetched again
        read(10),
        read(10, key="calendars:c1"),
        read(10, key="calendars:c2"),
        read(10, BEN),
    ]
    assert sorted(fetch_groups(requests, ttl=30)) == [1, 1, 1, 1, 2, 2]


def test_the_bound_is_every_request_when_the_demand_fits_the_budget() -> None:
    requests = [read(t) for t in range(10)] + [write(5)]
    bound = theoretical_maximum(requests, ttl=30, rate_per_minute=60, burst=2, span=10)
    assert (bound.demand_calls, bound.budget_calls) == (3, 12)
    assert bound.max_useful == bound.requests == 11


def test_past_the_budget_the_bound_keeps_the_calls_that_answer_the_most() -> None:
    requests = [read(0, BEN), read(1, BEN), read(2, BEN)]  # one fetch worth 3
    requests += [read(t, f"user-{t}") for t in range(5)]  # five fetches worth 1 each
    requests += [write(3), write(4, BEN)]  # two writes worth 1 each
    bound = theoretical_maximum(requests, ttl=30, rate_per_minute=60, burst=2, span=1)
    assert bound.demand_calls == 8
    assert bound.budget_calls == 3
    assert bound.max_useful == 3 + 1 + 1


def test_first_come_serves_in_arrival_order_until_the_window_is_full() -> None:
    requests = [read(0, BEN)]  # a fetch that a later read reuses...
    requests += [read(t, f"user-{t}") for t in (1, 2)]  # ...and two that nobody reuses
    requests += [read(3, BEN), read(4, "user-late")]
    # Two calls a window: BEN's fetch and user-1's; BEN's second read is cached; the rest refused.
    assert first_come_maximum(requests, ttl=30, per_window=2) == 3
    # The clairvoyant bound spends its two calls better only when it knows what comes back.
    assert (
        theoretical_maximum(requests, ttl=30, rate_per_minute=2, burst=0, span=60).max_useful == 3
    )


def test_first_come_refetches_after_a_write_and_after_the_ttl() -> None:
    requests = [read(0), write(5), read(5), read(20), read(40), read(61), read(62)]
    # Calls at 0, 5 (write), 5 (refetch): the window is full until 60 s; 20 is cached, 40 is
    # past the ttl and refused; 61 and 62 get the window's new room (61 fetches, 62 is cached).
    assert first_come_maximum(requests, ttl=30, per_window=3) == 6


def test_the_plan_is_the_same_for_the_same_seed_and_writes_never_share_a_target() -> None:
    scenario = Scenario("A", "", app_users=300, meetergo_users=300, duration=180)
    first, second = plan(scenario), plan(scenario)
    assert [u.actions for u in first] == [u.actions for u in second]
    writes = [a for u in first for a in u.actions if a.kind != "open"]
    targets = [a.target for a in writes if a.target is not None]
    assert len(targets) == len(set(targets))
    assert {a.kind for a in writes} == {"patch", "primary", "delete", "connect"}
    assert all(0 <= a.time <= 180 for u in first for a in u.actions)
    assert first[4].meetergo_user_id == generated_user_id(5)


def test_in_the_shared_scenario_only_one_app_user_per_meetergo_user_writes() -> None:
    scenario = Scenario("B", "", app_users=300, meetergo_users=10, duration=60)
    users = plan(scenario)
    assert len({u.meetergo_user_id for u in users}) == 10
    writers = {u.index for u in users for a in u.actions if a.kind != "open"}
    assert writers <= set(range(10))


def test_an_ideal_open_reads_the_list_and_the_calendars_of_the_connections_then() -> None:
    scenario = Scenario("A", "", app_users=3, meetergo_users=3, duration=60, reopen=0)
    users = plan(scenario)
    requests = ideal_requests(users)
    third = users[2].meetergo_user_id
    first_open = [r for r in requests if r.meetergo_user == third][:4]
    assert [r.key for r in first_open] == [
        "list",
        *(f"calendars:{c.id}" for c in seeded_connections(3)),
    ]


@pytest.mark.parametrize(
    ("cache_status", "expected"),
    [
        (None, "fresh"),
        ("meetergo-bff; fwd=miss; stored", "fresh"),
        ("meetergo-bff; fwd=miss; collapsed", "fresh"),
        ("meetergo-bff; fwd=request", "fresh"),
        # Forwarded because the copy was stale: meetergo's answer, fetched just now.
        ("meetergo-bff; fwd=stale; stored", "fresh"),
        ("meetergo-bff; hit; ttl=12", "hit"),
        ("meetergo-bff; hit; ttl=-40; detail=stale-budget-spent", "stale"),
        ("meetergo-bff; fwd=stale; fwd-status=503; ttl=-40; detail=stale-if-error", "stale"),
    ],
)
def test_answers_are_classified_by_their_cache_status(
    cache_status: str | None, expected: str
) -> None:
    """The forms the service sends (docs/design.md, the read cache's Cache-Status table)."""
    headers = {"Cache-Status": cache_status} if cache_status else {}
    assert classify(httpx.Response(200, headers=headers, json=[])) == expected
