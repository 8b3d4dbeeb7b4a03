"""Shared state inside one process: the embedded default for a single replica.

Expiry follows an injected clock, so tests move time instead of sleeping. The store is bounded by
``max_entries``. Every write first drops expired entries; when a new key still finds the store
full, the live entries closest to expiry are evicted, one per new key (an overwrite never evicts).
Those are the entries that would have gone soonest anyway. The price: an evicted used-ticket
marker lets that ticket be replayed for the rest of its short life, so size ``max_entries`` well
above the working set and watch :attr:`MemoryState.evictions`, which counts only live evictions.

Concurrency: every method runs to completion without awaiting, so under asyncio (one thread) each
call is atomic. The store is not thread-safe; call it from the event loop only.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.state.store import DEFAULT_PREFIX, NOT_A_COUNTER, check_ttl

# What Redis's INCR accepts as a counter: a canonical base-10 integer in 64 bits.
_COUNTER = re.compile(r"0|-?[1-9][0-9]*")
_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
# Superseded expiry records are dropped once they outnumber live entries by this much.
_HEAP_SLACK = 1024


@dataclass(slots=True)
class _Entry:
    value: str
    expires_at: float
    stamp: int  # matches the entry's own record in the expiry heap; older records are stale


class _Table:
    """The entries of one in-process store, shared by all its prefixed views.

    ``_heap`` orders ``(expires_at, stamp, key)`` records by expiry. Overwrites and deletes leave
    their old record in place (a lazy heap): a record whose stamp differs from the entry's is
    skipped when popped, and the heap is rebuilt when stale records pile up.
    """

    def __init__(self, clock: Callable[[], float], max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.clock = clock
        self.max_entries = max_entries
        self.evictions = 0
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._stamps = itertools.count()
        self.queues: dict[str, dict[str, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= now:
            del self._entries[key]
            return None
        return entry

    def store(self, key: str, value: str, expires_at: float, now: float) -> None:
        self._purge_expired(now)
        if key not in self._entries:
            self._make_room(now)
        stamp = next(self._stamps)
        self._entries[key] = _Entry(value, expires_at, stamp)
        heapq.heappush(self._heap, (expires_at, stamp, key))
        if len(self._heap) > 2 * len(self._entries) + _HEAP_SLACK:
            self._rebuild_heap()

    def remove(self, key: str) -> None:
        self._entries.pop(key, None)

    def _purge_expired(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, stamp, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            if entry is not None and entry.stamp == stamp:
                del self._entries[key]

    def _make_room(self, now: float) -> None:
        # Expired entries are already gone, so whatever is popped here is live. Every live entry
        # has its current record in the heap, so the heap cannot run dry while the dict is full.
        while len(self._entries) >= self.max_entries:
            _, stamp, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            if entry is not None and entry.stamp == stamp:
                del self._entries[key]
                self.evictions += 1

    def _rebuild_heap(self) -> None:
        self._heap = [(entry.expires_at, entry.stamp, key) for key, entry in self._entries.items()]
        heapq.heapify(self._heap)


class MemoryState:
    """In-process :class:`~app.state.store.SharedState`: one replica, nothing to run.

    ``clock`` is any monotonic clock in seconds (``time.monotonic`` in production, a fake one in
    tests). ``max_entries`` bounds the store as described in the module's docstring.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
        *,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._table = _Table(clock, max_entries)
        self._prefix = prefix

    @property
    def name(self) -> str:
        return "memory"

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def evictions(self) -> int:
        """Live entries evicted because the store was full (expired ones are not counted)."""
        return self._table.evictions

    def __len__(self) -> int:
        """Entries held, across all views; expired ones may linger until the next write."""
        return len(self._table)

    def prefixed(self, prefix: str) -> MemoryState:
        """A view of the same store under another prefix, as a second Redis client would be.

        The views share entries and the ``max_entries`` bound. Choose prefixes that are not
        prefixes of one another, or their keys can meet.
        """
        view = copy.copy(self)
        view._prefix = prefix
        return view

    async def add(self, key: str, value: str, ttl: float) -> bool:
        check_ttl(ttl)
        table, now, full_key = self._table, self._table.clock(), self._prefix + key
        if table.live(full_key, now) is not None:
            return False
        table.store(full_key, value, now + ttl, now)
        return True

    async def put(self, key: str, value: str, ttl: float) -> None:
        check_ttl(ttl)
        now = self._table.clock()
        self._table.store(self._prefix + key, value, now + ttl, now)

    async def get(self, key: str) -> str | None:
        entry = self._table.live(self._prefix + key, self._table.clock())
        return None if entry is None else entry.value

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        now = self._table.clock()
        entries = [self._table.live(self._prefix + key, now) for key in keys]
        return [None if entry is None else entry.value for entry in entries]

    async def delete(self, key: str) -> None:
        self._table.remove(self._prefix + key)

    async def incr(self, key: str, ttl: float) -> int:
        check_ttl(ttl)
        table, now, full_key = self._table, self._table.clock(), self._prefix + key
        entry = table.live(full_key, now)
        if entry is None:
            table.store(full_key, "1", now + ttl, now)
            return 1
        if not _COUNTER.fullmatch(entry.value):
            raise ValueError(NOT_A_COUNTER)
        count = int(entry.value) + 1
        if not _INT64_MIN <= count <= _INT64_MAX:
            raise ValueError(NOT_A_COUNTER)
        # Changing the value in place keeps the expiry: a counted window ends when it began + ttl.
        entry.value = str(count)
        return count

    async def ensure(self, key: str, value: str) -> str:
        table, now, full_key = self._table, self._table.clock(), self._prefix + key
        entry = table.live(full_key, now)
        if entry is not None:
            return entry.value
        table.store(full_key, value, math.inf, now)  # never expires; evicted last
        return value

    async def schedule(self, queue: str, member: str, due: float, ttl: float) -> None:
        check_ttl(ttl)  # a queue lives as long as the process here
        self._table.queues.setdefault(self._prefix + queue, {})[member] = due

    async def take_due(self, queue: str, now: float, lease: float) -> str | None:
        members = self._table.queues.get(self._prefix + queue, {})
        due = [(when, member) for member, when in members.items() if when <= now]
        if not due:
            return None
        _, member = min(due)
        members[member] = now + lease
        return member

    async def unschedule(self, queue: str, member: str) -> None:
        self._table.queues.get(self._prefix + queue, {}).pop(member, None)

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        """Nothing to release; the entries go with the process."""
