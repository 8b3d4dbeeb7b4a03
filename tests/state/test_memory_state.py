"""What only the in-process backend promises: exact expiry by its clock, and a bounded size."""

from __future__ import annotations

import anyio
import pytest

from app.state.memory import MemoryState
from tests.state.conftest import FakeClock

pytestmark = pytest.mark.anyio


async def test_an_entry_lives_until_exactly_its_ttl(clock: FakeClock) -> None:
    state = MemoryState(clock=clock)
    await state.put("k", "v", 10)
    clock.advance(9.999)
    assert await state.get("k") == "v"
    clock.advance(0.001)
    assert await state.get("k") is None


def test_a_store_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryState(max_entries=0)


async def test_a_full_store_evicts_the_entry_closest_to_expiry(clock: FakeClock) -> None:
    state = MemoryState(clock=clock, max_entries=3)
    await state.put("soonest", "1", 10)
    await state.put("latest", "2", 30)
    await state.put("middle", "3", 20)

    await state.put("new", "4", 5)

    assert await state.get_many(["soonest", "latest", "middle", "new"]) == [None, "2", "3", "4"]
    assert len(state) == 3
    assert state.evictions == 1


async def test_a_full_store_drops_expired_entries_before_evicting_live_ones(
    clock: FakeClock,
) -> None:
    state = MemoryState(clock=clock, max_entries=3)
    await state.put("expires", "1", 5)
    await state.put("long", "2", 100)
    await state.put("medium", "3", 50)
    clock.advance(6)

    await state.put("new", "4", 1)
    assert await state.get_many(["long", "medium", "new"]) == ["2", "3", "4"]
    assert state.evictions == 0

    await state.add("newer", "5", 200)
    # "new" (1 s left) goes first, then the others by time left.
    assert await state.get_many(["new", "long", "medium", "newer"]) == [None, "2", "3", "5"]
    assert state.evictions == 1


async def test_replacing_a_key_in_a_full_store_evicts_nothing(clock: FakeClock) -> None:
    state = MemoryState(clock=clock, max_entries=2)
    await state.put("a", "1", 10)
    await state.put("b", "2", 20)

    await state.put("a", "1b", 30)
    assert await state.incr("counter-in-a-full-store", 40) == 1
    # The increment needed room; "b" had the least time left after "a" was renewed.
    assert await state.get_many(["a", "b"]) == ["1b", None]
    assert state.evictions == 1


async def test_eviction_goes_by_the_current_expiry_not_an_overwritten_one(
    clock: FakeClock,
) -> None:
    state = MemoryState(clock=clock, max_entries=2)
    await state.put("renewed", "old", 1)
    await state.put("renewed", "new", 100)
    await state.put("other", "x", 50)

    await state.put("third", "y", 60)

    assert await state.get_many(["renewed", "other", "third"]) == ["new", None, "y"]


async def test_a_superseded_expiry_does_not_remove_the_renewed_entry(clock: FakeClock) -> None:
    state = MemoryState(clock=clock, max_entries=10)
    await state.put("k", "short", 1)
    await state.delete("k")
    await state.put("k", "long", 100)
    clock.advance(2)
    # The first record's expiry has passed; it must not take the renewed entry with it.
    await state.put("trigger-purge", "1", 100)
    assert await state.get("k") == "long"


async def test_many_overwrites_keep_the_store_small_and_correct(clock: FakeClock) -> None:
    state = MemoryState(clock=clock, max_entries=4)
    for round_ in range(5_000):
        await state.put("hot", str(round_), 100 + round_)
    await state.put("b", "b", 10)
    await state.put("c", "c", 20)
    await state.put("d", "d", 30)
    await state.put("e", "e", 40)

    assert await state.get_many(["hot", "b", "c", "d", "e"]) == ["4999", None, "c", "d", "e"]
    assert len(state) == 4
    # Superseded expiry records are compacted away rather than kept for every overwrite.
    assert len(state._table._heap) < 2_000


async def test_prefixed_views_share_one_store_and_its_bound(clock: FakeClock) -> None:
    sessions = MemoryState(clock=clock, max_entries=2, prefix="s:")
    tickets = sessions.prefixed("t:")
    await sessions.put("a", "1", 10)
    await tickets.put("a", "2", 20)

    await tickets.put("b", "3", 30)

    assert await sessions.get("a") is None
    assert await tickets.get_many(["a", "b"]) == ["2", "3"]
    assert len(sessions) == len(tickets) == 2


async def test_without_a_clock_entries_expire_in_real_time() -> None:
    state = MemoryState()
    await state.put("k", "v", 0.02)
    assert await state.get("k") == "v"
    await anyio.sleep(0.03)
    assert await state.get("k") is None
