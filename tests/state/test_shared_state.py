"""The behaviour every shared state backend promises, run against each of them."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio
import pytest

from app.state.store import SharedState
from tests.state.conftest import LONG_TTL, Backend

pytestmark = pytest.mark.anyio


async def test_backend_names_itself_for_logs_and_readiness(backend: Backend) -> None:
    assert backend.state.name == backend.name


async def test_ping_answers_true_when_the_backend_serves(backend: Backend) -> None:
    assert await backend.state.ping() is True


# -- add: set only if absent ---------------------------------------------------------------------


async def test_add_sets_an_absent_key_once_and_keeps_the_first_value(backend: Backend) -> None:
    state = backend.state
    assert await state.add("ticket:1", "first", LONG_TTL) is True
    assert await state.add("ticket:1", "second", LONG_TTL) is False
    assert await state.get("ticket:1") == "first"


async def test_add_does_not_set_a_key_that_put_wrote(backend: Backend) -> None:
    await backend.state.put("ticket:1", "put", LONG_TTL)
    assert await backend.state.add("ticket:1", "added", LONG_TTL) is False
    assert await backend.state.get("ticket:1") == "put"


async def test_add_succeeds_again_once_the_key_expired(backend: Backend) -> None:
    state = backend.state
    assert await state.add("ticket:1", "first", backend.short_ttl) is True
    assert await state.add("ticket:1", "early", backend.short_ttl) is False
    await backend.let_short_ttl_pass()
    assert await state.add("ticket:1", "again", LONG_TTL) is True
    assert await state.get("ticket:1") == "again"


async def test_add_succeeds_again_after_delete(backend: Backend) -> None:
    assert await backend.state.add("ticket:1", "first", LONG_TTL) is True
    await backend.state.delete("ticket:1")
    assert await backend.state.add("ticket:1", "again", LONG_TTL) is True


async def test_concurrent_adds_of_one_key_have_exactly_one_winner(backend: Backend) -> None:
    outcomes: dict[int, bool] = {}

    async def contender(number: int) -> None:
        outcomes[number] = await backend.state.add("ticket:race", str(number), LONG_TTL)

    async with anyio.create_task_group() as tasks:
        for number in range(50):
            tasks.start_soon(contender, number)

    winners = [number for number, won in outcomes.items() if won]
    assert len(outcomes) == 50
    assert len(winners) == 1
    assert await backend.state.get("ticket:race") == str(winners[0])


# -- put / get / delete --------------------------------------------------------------------------


async def test_get_of_an_absent_key_is_none(backend: Backend) -> None:
    assert await backend.state.get("never-written") is None


@pytest.mark.parametrize("value", ["1", "", "Grüße, 日本 ✓", "a" * 10_000, ' "quoted" \n'])
async def test_put_then_get_returns_the_value_exactly(backend: Backend, value: str) -> None:
    await backend.state.put("value", value, LONG_TTL)
    assert await backend.state.get("value") == value


async def test_put_replaces_the_value(backend: Backend) -> None:
    await backend.state.put("rev:sid:1", "old", LONG_TTL)
    await backend.state.put("rev:sid:1", "new", LONG_TTL)
    assert await backend.state.get("rev:sid:1") == "new"


async def test_a_put_value_expires_after_its_ttl(backend: Backend) -> None:
    await backend.state.put("rev:sid:1", "1", backend.short_ttl)
    assert await backend.state.get("rev:sid:1") == "1"
    await backend.let_short_ttl_pass()
    assert await backend.state.get("rev:sid:1") is None


async def test_put_replaces_the_ttl_too(backend: Backend) -> None:
    await backend.state.put("rev:sid:1", "short", backend.short_ttl)
    await backend.state.put("rev:sid:1", "long", LONG_TTL)
    await backend.let_short_ttl_pass()
    assert await backend.state.get("rev:sid:1") == "long"


async def test_delete_removes_the_key(backend: Backend) -> None:
    await backend.state.put("rev:sid:1", "1", LONG_TTL)
    await backend.state.delete("rev:sid:1")
    assert await backend.state.get("rev:sid:1") is None


async def test_delete_of_an_absent_key_is_not_an_error(backend: Backend) -> None:
    await backend.state.delete("never-written")
    assert await backend.state.get("never-written") is None


# -- get_many ------------------------------------------------------------------------------------


async def test_get_many_returns_values_in_key_order_with_none_for_gaps(backend: Backend) -> None:
    state = backend.state
    await state.put("b", "2", LONG_TTL)
    await state.put("d", "4", LONG_TTL)
    await state.put("a", "1", LONG_TTL)
    assert await state.get_many(["a", "missing", "b", "c", "d", "a"]) == [
        "1",
        None,
        "2",
        None,
        "4",
        "1",
    ]


async def test_get_many_of_no_keys_is_an_empty_list(backend: Backend) -> None:
    assert await backend.state.get_many([]) == []


async def test_get_many_leaves_out_expired_values(backend: Backend) -> None:
    await backend.state.put("short", "s", backend.short_ttl)
    await backend.state.put("long", "l", LONG_TTL)
    await backend.let_short_ttl_pass()
    assert await backend.state.get_many(["short", "long"]) == [None, "l"]


# -- incr ----------------------------------------------------------------------------------------


async def test_incr_counts_up_from_one(backend: Backend) -> None:
    counts = [await backend.state.incr("budget:window", LONG_TTL) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert await backend.state.get("budget:window") == "3"


async def test_incr_continues_a_counter_written_with_put(backend: Backend) -> None:
    await backend.state.put("budget:window", "41", LONG_TTL)
    assert await backend.state.incr("budget:window", LONG_TTL) == 42


async def test_incr_keeps_the_expiry_of_the_first_increment(backend: Backend) -> None:
    state = backend.state
    assert await state.incr("budget:window", backend.short_ttl) == 1
    # A later, longer ttl must not stretch the window the first increment opened.
    assert await state.incr("budget:window", LONG_TTL) == 2
    await backend.let_short_ttl_pass()
    assert await state.get("budget:window") is None
    assert await state.incr("budget:window", LONG_TTL) == 1


async def test_concurrent_increments_are_never_lost(backend: Backend) -> None:
    counts: list[int] = []

    async def increment() -> None:
        counts.append(await backend.state.incr("budget:window", LONG_TTL))

    async with anyio.create_task_group() as tasks:
        for _ in range(50):
            tasks.start_soon(increment)

    assert sorted(counts) == list(range(1, 51))
    assert await backend.state.get("budget:window") == "50"


@pytest.mark.parametrize("value", ["not a number", "1.5", "", " 7", "007", str(2**63 - 1)])
async def test_incr_refuses_a_key_that_holds_no_counter(backend: Backend, value: str) -> None:
    await backend.state.put("budget:window", value, LONG_TTL)
    with pytest.raises(ValueError, match="counter"):
        await backend.state.incr("budget:window", LONG_TTL)
    assert await backend.state.get("budget:window") == value


# -- ttl -----------------------------------------------------------------------------------------

Writer = Callable[[SharedState, str, float], Awaitable[object]]
WRITERS: dict[str, Writer] = {
    "add": lambda state, key, ttl: state.add(key, "v", ttl),
    "put": lambda state, key, ttl: state.put(key, "v", ttl),
    "incr": lambda state, key, ttl: state.incr(key, ttl),
}


@pytest.mark.parametrize("operation", list(WRITERS))
@pytest.mark.parametrize("ttl", [0, 0.0, -1.0, -0.001, math.nan, math.inf])
async def test_a_ttl_that_is_not_a_positive_number_is_refused_before_writing(
    backend: Backend, operation: str, ttl: float
) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await WRITERS[operation](backend.state, "k", ttl)
    assert await backend.state.get("k") is None


async def test_a_ttl_below_a_millisecond_is_accepted_and_expires(backend: Backend) -> None:
    for operation, write in WRITERS.items():
        await write(backend.state, operation, 0.0001)
    await backend.let_short_ttl_pass()
    assert await backend.state.get_many(list(WRITERS)) == [None, None, None]


# -- prefixes ------------------------------------------------------------------------------------


async def test_two_prefixes_do_not_see_each_other(backend: Backend) -> None:
    mine, theirs = backend.state, backend.other_prefix
    await mine.put("k", "mine", LONG_TTL)
    assert await theirs.get("k") is None
    assert await theirs.get_many(["k"]) == [None]

    assert await theirs.add("k", "theirs", LONG_TTL) is True
    assert await mine.incr("n", LONG_TTL) == 1
    assert await theirs.incr("n", LONG_TTL) == 1

    await theirs.delete("k")
    assert await mine.get("k") == "mine"


# -- ensure: the one value without expiry (the state epoch) ---------------------------------------


async def test_ensure_sets_an_absent_key_once_and_every_caller_gets_the_winner(
    backend: Backend,
) -> None:
    held: list[str] = []

    async def contender(number: int) -> None:
        held.append(await backend.state.ensure("epoch", f"epoch-{number}"))

    async with anyio.create_task_group() as group:
        for number in range(20):
            group.start_soon(contender, number)
    assert len(set(held)) == 1
    assert await backend.state.get("epoch") == held[0]


async def test_an_ensured_value_outlives_every_ttl(backend: Backend) -> None:
    await backend.state.ensure("epoch", "kept")
    await backend.state.put("short", "gone", backend.short_ttl)
    await backend.let_short_ttl_pass()
    assert await backend.state.get_many(["epoch", "short"]) == ["kept", None]


# -- the durable work queue (queued hijack removals) ---------------------------------------------


async def test_take_due_returns_only_due_members_and_leases_them(backend: Backend) -> None:
    state = backend.state
    await state.schedule("work", "later", 2_000.0, LONG_TTL)
    await state.schedule("work", "now", 1_000.0, LONG_TTL)
    assert await state.take_due("work", 1_500.0, lease=100.0) == "now"
    assert await state.take_due("work", 1_500.0, lease=100.0) is None  # "now" is leased
    assert await state.take_due("work", 1_600.0, lease=100.0) == "now"  # the lease ran out
    await state.unschedule("work", "now")
    assert await state.take_due("work", 5_000.0, lease=100.0) == "later"
    await state.unschedule("work", "absent")  # not an error


async def test_concurrent_take_due_gives_each_member_to_one_taker(backend: Backend) -> None:
    for number in range(10):
        await backend.state.schedule("work", f"m{number}", 1_000.0, LONG_TTL)
    taken: list[str | None] = []

    async def taker() -> None:
        taken.append(await backend.state.take_due("work", 1_000.0, lease=60.0))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(taker)
    members = [member for member in taken if member is not None]
    assert sorted(members) == sorted(f"m{number}" for number in range(10))
