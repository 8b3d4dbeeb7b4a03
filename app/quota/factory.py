"""Build the budget and the read cache on the same backend as the rest of the shared state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from app.config import Settings
from app.ops.metrics import Metrics
from app.quota.budget import UpstreamBudget
from app.quota.cache import MemoryReadCache, ReadCache, RedisReadCache
from app.quota.stages import BudgetStage, ReadCacheStage
from app.quota.window import BudgetWindow, MemoryWindow, RedisWindow
from app.state.redis import RedisState
from app.state.store import SharedState

# An invalidation's generation must outlive every fetch that started before it.
_GENERATION_MARGIN = 60.0


@dataclass(frozen=True)
class Quota:
    budget: UpstreamBudget
    cache_stage: ReadCacheStage
    budget_stage: BudgetStage


def budget_key(settings: Settings) -> str:
    """The budget's name: one per API key, as meetergo counts (never the key itself)."""
    key = settings.meetergo_api_key.get_secret_value().encode()
    return hashlib.sha256(b"mbff-budget:" + key).hexdigest()[:16]


def build_quota(settings: Settings, state: SharedState, metrics: Metrics | None) -> Quota:
    lifetime = settings.cache_ttl + settings.cache_max_stale + _GENERATION_MARGIN
    window: BudgetWindow
    cache: ReadCache
    if isinstance(state, RedisState):
        window = RedisWindow(state.client, f"{state.prefix}budget:{budget_key(settings)}:")
        cache = RedisReadCache(state.client, f"{state.prefix}cache:", lifetime)
        locks: SharedState | None = state
    else:
        window = MemoryWindow()
        cache = MemoryReadCache(lifetime, settings.cache_max_users)
        locks = None  # one process: sharing the fetch in memory is all the coalescing needed
    budget = UpstreamBudget(settings, window, metrics=metrics)
    return Quota(
        budget=budget,
        cache_stage=ReadCacheStage(settings, cache, locks=locks, metrics=metrics),
        budget_stage=BudgetStage(settings, budget, metrics=metrics),
    )
