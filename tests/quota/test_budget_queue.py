"""The budget's fair queue, with a window shortened to fractions of a second (real time)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from app.quota.budget import BudgetRefused, Priority, UpstreamBudget
from app.quota.window import MemoryWindow, RedisWindow
from app.state.redis import RedisState
from tests.support.settings import make_settings

WINDOW = 0.4


def _budget(per_minute: int, *, window: Any = None, **overrides: Any) -> UpstreamBudget:
    values: dict[str, Any] = {
        "budget_per_minute": per_minute,
        "budget_write_reserve": 0,
        "budget_refresh_reserve": 0,
        "budget_per_user_per_minute": 0,
        **overrides,
    }
    return UpstreamBudget(make_settings(**values), window or MemoryWindow(seconds=WINDOW))


def test_a_call_that_fits_its_wait_gets_the_next_free_slot() -> None:
    async def scenario() -> float:
        budget = _budget(2)
        for _ in range(2):
            await budget.acquire(Priority.FIRST_READ, None, 0)
        started = time.monotonic()
        await budget.acquire(Priority.FIRST_READ, None, 5)
        return time.monotonic() - started

    waited = asyncio.run(scenario())
    assert WINDOW * 0.75 <= waited <= WINDOW + 1.0


def test_a_refusal_says_when_a_slot_of_its_class_frees() -> None:
    async def scenario() -> BudgetRefused:
        budget = _budget(3, budget_write_reserve=1)
        for _ in range(2):
            await budget.acquire(Priority.FIRST_READ, None, 0)
        with pytest.raises(BudgetRefused) as refused:
            await budget.acquire(Priority.FIRST_READ, None, 0.05)
        await budget.acquire(Priority.WRITE, None, 0)  # the reserve is there for writes
        return refused.value

    refused = asyncio.run(scenario())
    assert refused.scope == "global"
    assert 0.2 <= refused.retry_after <= WINDOW
    assert refused.retry_after_header == "1"  # whole seconds, rounded up


def _outcomes(budget: UpstreamBudget, calls: list[Priority]) -> list[str]:
    async def scenario() -> list[str]:
        outcomes = []
        for priority in calls:
            try:
                await budget.acquire(priority, None, 0)
                outcomes.append(f"{priority.name}:ok")
            except BudgetRefused:
                outcomes.append(f"{priority.name}:refused")
        return outcomes

    return asyncio.run(scenario())


def test_reads_stop_at_the_write_reserve_and_refreshes_use_what_no_first_read_asked_for() -> None:
    budget = _budget(6, budget_write_reserve=2, budget_refresh_reserve=2)
    calls = [Priority.REFRESH] * 5 + [Priority.FIRST_READ] + [Priority.WRITE] * 3
    assert _outcomes(budget, calls) == [
        "REFRESH:ok", "REFRESH:ok", "REFRESH:ok", "REFRESH:ok", "REFRESH:refused",
        "FIRST_READ:refused",
        "WRITE:ok", "WRITE:ok", "WRITE:refused",
    ]  # fmt: skip


def test_refreshes_leave_first_reads_as_many_calls_as_they_asked_for() -> None:
    budget = _budget(8, budget_write_reserve=2, budget_refresh_reserve=2)
    # One first read asked: refreshes stop one call early (at 6 - 1), and that call is its.
    calls = [Priority.FIRST_READ] + [Priority.REFRESH] * 5 + [Priority.FIRST_READ] * 2
    assert _outcomes(budget, calls) == [
        "FIRST_READ:ok",
        "REFRESH:ok", "REFRESH:ok", "REFRESH:ok", "REFRESH:ok", "REFRESH:refused",
        "FIRST_READ:ok", "FIRST_READ:refused",
    ]  # fmt: skip


def test_the_first_reads_reserve_is_capped_by_the_setting() -> None:
    budget = _budget(10, budget_write_reserve=0, budget_refresh_reserve=2)
    # Five first reads asked for: refreshes still leave only the configured two calls.
    calls = [Priority.FIRST_READ] * 5 + [Priority.REFRESH] * 4
    assert _outcomes(budget, calls)[5:] == ["REFRESH:ok"] * 3 + ["REFRESH:refused"]


def test_the_demand_leaves_the_window_with_the_calls() -> None:
    budget = _budget(5, budget_write_reserve=0, budget_refresh_reserve=4)
    assert _outcomes(budget, [Priority.FIRST_READ, Priority.REFRESH]) == [
        "FIRST_READ:ok",
        "REFRESH:ok",
    ]
    time.sleep(WINDOW)  # both calls and the first read's demand leave the window
    assert _outcomes(budget, [Priority.REFRESH] * 6) == ["REFRESH:ok"] * 5 + ["REFRESH:refused"]


def test_a_refresh_that_may_wait_gets_the_next_free_slot() -> None:
    async def scenario() -> float:
        budget = _budget(2)
        for _ in range(2):
            await budget.acquire(Priority.WRITE, None, 0)
        started = time.monotonic()
        await budget.acquire(Priority.REFRESH, None, WINDOW * 3)
        return time.monotonic() - started

    assert WINDOW * 0.75 <= asyncio.run(scenario()) <= WINDOW * 3


def test_a_newcomer_never_takes_the_slot_a_queued_call_waits_for() -> None:
    """Deterministic: a fake clock frees the slot while the queued call still sleeps."""

    async def scenario() -> tuple[bool, bool]:
        now = [0.0]
        woken = asyncio.Event()

        async def sleep(_: float) -> None:
            await woken.wait()

        window = MemoryWindow(lambda: now[0], seconds=60)
        budget = UpstreamBudget(
            make_settings(
                budget_per_minute=1,
                budget_write_reserve=0,
                budget_refresh_reserve=0,
                budget_per_user_per_minute=0,
            ),
            window,
            clock=lambda: now[0],
            sleep=sleep,
        )
        await budget.acquire(Priority.WRITE, None, 0)
        queued = asyncio.create_task(budget.acquire(Priority.FIRST_READ, "alice", 120))
        for _ in range(5):
            await asyncio.sleep(0)  # alice is at the head of the queue, sleeping
        now[0] = 61.0  # the write leaves the window: one slot, alice's
        newcomer_refused = False
        try:
            await budget.acquire(Priority.FIRST_READ, "bob", 0)
        except BudgetRefused:
            newcomer_refused = True
        woken.set()
        await queued
        return newcomer_refused, queued.done()

    assert asyncio.run(scenario()) == (True, True)


@pytest.mark.redis
def test_the_demand_for_first_reads_is_shared_by_replicas(redis_url: str) -> None:
    """One replica's first reads shrink every replica's room for refreshes (one Redis)."""

    async def scenario() -> list[str]:
        state = RedisState.from_url(redis_url)
        prefix = f"t:demand:{uuid.uuid4().hex}:"
        try:
            first = _budget(
                8,
                window=RedisWindow(state.client, prefix, seconds=60),
                budget_write_reserve=2,
                budget_refresh_reserve=2,
            )
            second = _budget(
                8,
                window=RedisWindow(state.client, prefix, seconds=60),
                budget_write_reserve=2,
                budget_refresh_reserve=2,
            )
            await first.acquire(Priority.FIRST_READ, None, 0)
            await first.acquire(Priority.FIRST_READ, None, 0)
            outcomes = []
            for _ in range(3):
                try:
                    await second.acquire(Priority.REFRESH, None, 0)
                    outcomes.append("ok")
                except BudgetRefused:
                    outcomes.append("refused")
            return outcomes
        finally:
            await state.aclose()

    # Two first reads asked on the first replica: the second refreshes up to 6 - 2, i.e. 2 more.
    assert asyncio.run(scenario()) == ["ok", "ok", "refused"]


def _served_order(calls: list[tuple[Priority, str]], per_minute: int = 1) -> list[str]:
    async def scenario() -> list[str]:
        budget = _budget(per_minute, budget_max_wait=10)
        await budget.acquire(Priority.WRITE, None, 0)  # the window is full
        order: list[str] = []

        async def one(priority: Priority, name: str) -> None:
            await budget.acquire(priority, name.split("-", maxsplit=1)[0], 10)
            order.append(name)

        tasks = []
        for priority, name in calls:
            tasks.append(asyncio.create_task(one(priority, name)))
            await asyncio.sleep(0.01)  # arrival order
        await asyncio.gather(*tasks)
        return order

    return asyncio.run(scenario())


def test_queued_writes_go_before_queued_reads() -> None:
    order = _served_order(
        [(Priority.FIRST_READ, "a-1"), (Priority.FIRST_READ, "b-1"), (Priority.WRITE, "c-1")]
    )
    assert order == ["c-1", "a-1", "b-1"]


def test_queued_users_are_served_round_robin() -> None:
    order = _served_order(
        [(Priority.FIRST_READ, name) for name in ("a-1", "a-2", "a-3", "b-1", "c-1")]
    )
    assert order == ["a-1", "b-1", "c-1", "a-2", "a-3"]


def test_a_call_that_cannot_get_its_turn_in_time_is_refused_at_once() -> None:
    async def scenario() -> list[str]:
        budget = _budget(1)
        await budget.acquire(Priority.WRITE, None, 0)  # full until WINDOW
        events: list[str] = []

        async def one(name: str) -> None:
            try:
                await budget.acquire(Priority.FIRST_READ, name, WINDOW * 1.5)
                events.append(f"{name} granted")
            except BudgetRefused as refused:
                events.append(f"{name} refused, retry after {refused.retry_after:.1f}")

        first = asyncio.create_task(one("a"))
        await asyncio.sleep(0.01)
        # b's turn comes a slot after a's: two windows from now, past its wait of 1.5 windows.
        await one("b")
        await first
        return events

    events = asyncio.run(scenario())
    assert [event.split(",")[0] for event in events] == ["b refused", "a granted"]
    assert events[0].endswith(f"{2 * WINDOW:.1f}") or events[0].endswith(f"{2 * WINDOW - 0.1:.1f}")


def test_the_queue_is_bounded() -> None:
    async def scenario() -> None:
        budget = _budget(1, budget_max_waiters=1)
        await budget.acquire(Priority.WRITE, None, 0)
        waiting = asyncio.create_task(budget.acquire(Priority.FIRST_READ, None, 5))
        await asyncio.sleep(0.01)
        with pytest.raises(BudgetRefused):
            await budget.acquire(Priority.FIRST_READ, None, 5)
        await waiting

    asyncio.run(scenario())


def test_one_users_share_is_capped_and_does_not_hold_up_the_queue() -> None:
    async def scenario() -> None:
        budget = _budget(10, budget_per_user_per_minute=2)
        for _ in range(2):
            await budget.acquire(Priority.FIRST_READ, "mallory", 0)
        with pytest.raises(BudgetRefused) as refused:
            await budget.acquire(Priority.FIRST_READ, "mallory", 0)
        assert refused.value.scope == "user"
        await budget.acquire(Priority.FIRST_READ, "alice", 0)

    asyncio.run(scenario())


def test_without_redis_each_replica_spends_its_share_only() -> None:
    """Redis configured but unreachable: 1/budget_replicas of the budget, locally."""

    async def scenario() -> list[bool]:
        state = RedisState.from_url(
            "redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2
        )
        window = RedisWindow(state.client, "t:budget:", seconds=60)
        budget = _budget(9, window=window, budget_replicas=3)
        granted = []
        for _ in range(5):
            try:
                await budget.acquire(Priority.WRITE, None, 0)
                granted.append(True)
            except BudgetRefused:
                granted.append(False)
        await state.aclose()
        return granted

    assert asyncio.run(scenario()) == [True, True, True, False, False]
