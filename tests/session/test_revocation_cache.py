"""The revocation cache's own rules, on a clock the test moves (no Redis, no app).

What Redis and the replicas do around it is in test_revocation_cache_redis.py; here are the rules
that no test over sockets can time exactly: the subscription's word expires by the clock, even
when nothing reports the loss, and the memory is bounded.
"""

from __future__ import annotations

import pytest

from app.ops.metrics import Metrics
from app.session.revocation_cache import RevocationCache, session_notice, user_notice


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cache_on(clock: Clock, **kwargs: object) -> RevocationCache:
    # The notices are not followed here: the test plays the subscription.
    return RevocationCache(object(), 60, clock=clock, **kwargs)  # type: ignore[arg-type]


def remember(cache: RevocationCache, sid: str, user: str = "u1", epoch: str = "e1") -> None:
    cache.remember(sid, user, epoch, cache.generation)


def test_nothing_is_used_or_stored_before_the_subscription_is_confirmed(clock: Clock) -> None:
    cache = cache_on(clock)
    remember(cache, "s1")
    cache.subscribed(until=clock.now + 2)
    assert not cache.clean("s1")
    remember(cache, "s1")
    assert cache.clean("s1")


def test_the_subscriptions_word_expires_by_the_clock_even_when_no_loss_is_reported(
    clock: Clock,
) -> None:
    cache = cache_on(clock)
    cache.subscribed(until=clock.now + 2)
    remember(cache, "s1")
    clock.now += 1.9
    assert cache.clean("s1")
    clock.now += 0.1  # the heartbeat is late: the follow loop may not have run yet
    assert not cache.clean("s1")
    assert not cache.live
    cache.confirmed(until=clock.now + 2)  # a late answer does extend it again: nothing missed
    assert cache.clean("s1")


def test_a_lost_subscription_forgets_and_a_new_one_forgets_again(clock: Clock) -> None:
    cache = cache_on(clock)
    cache.subscribed(until=clock.now + 2)
    remember(cache, "s1")
    cache.lost()
    cache.subscribed(until=clock.now + 2)
    assert not cache.clean("s1")


def test_an_answer_asked_before_any_notice_arrived_is_not_stored(clock: Clock) -> None:
    cache = cache_on(clock)
    cache.subscribed(until=clock.now + 2)
    asked_at = cache.generation
    cache.heard(session_notice("another session"))
    cache.remember("s1", "u1", "e1", asked_at)
    assert not cache.clean("s1")


def test_notices_drop_a_session_a_users_sessions_or_everything(clock: Clock) -> None:
    cache = cache_on(clock)
    cache.subscribed(until=clock.now + 2)
    for sid, user in (("s1", "u1"), ("s2", "u1"), ("s3", "u2"), ("s4", "u2")):
        remember(cache, sid, user)
    cache.heard(session_notice("s3"))
    assert [cache.clean(s) for s in ("s1", "s2", "s3", "s4")] == [True, True, False, True]
    cache.heard(user_notice("u1"))
    assert [cache.clean(s) for s in ("s1", "s2", "s3", "s4")] == [False, False, False, True]
    cache.heard("epoch")
    assert not cache.clean("s4")
    remember(cache, "s5")
    cache.heard("a-notice-of-a-newer-version:x")  # not understood: nothing is trusted
    assert not cache.clean("s5")


def test_another_epoch_seen_by_a_check_forgets_everything(clock: Clock) -> None:
    cache = cache_on(clock)
    cache.subscribed(until=clock.now + 2)
    remember(cache, "s1", epoch="e1")
    cache.saw_epoch("e1")
    assert cache.clean("s1")
    cache.saw_epoch("e2")
    assert not cache.clean("s1")


def test_entries_expire_and_the_memory_is_bounded(clock: Clock) -> None:
    cache = cache_on(clock, max_entries=3)
    cache.subscribed(until=clock.now + 1000)
    for sid in ("s1", "s2", "s3", "s4"):
        remember(cache, sid)
    assert [cache.clean(s) for s in ("s1", "s2", "s3", "s4")] == [False, True, True, True]
    clock.now += 60
    assert not cache.clean("s4")


def test_lookups_and_the_subscription_are_counted(clock: Clock) -> None:
    metrics = Metrics()
    cache = cache_on(clock, metrics=metrics)
    cache.clean("s1")
    cache.subscribed(until=clock.now + 2)
    cache.clean("s1")
    remember(cache, "s1")
    cache.clean("s1")
    cache.heard(session_notice("s1"))

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    for outcome in ("unconfirmed", "miss", "hit"):
        assert value("bff_revocation_cache_lookups_total", outcome=outcome) == 1
    assert value("bff_revocation_notices_total") == 1
    assert value("bff_revocation_notices_live") == 1
    cache.lost()
    assert value("bff_revocation_notices_live") == 0
