"""The revocation cache (app/session/revocation_cache.py): skips Redis, never a revocation.

Replicas are real ``create_app`` instances on a real Redis: the shared one under a prefix of the
test's own, or a ``redis-server`` of the test's own where a test counts its commands, kills its
connections, freezes, empties or restarts it. Entries live 60 s here, so a session served from a
replica's memory when it should not be shows as a 200 for far longer than any test waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from app.state.redis import RedisState
from tests.session.conftest import Api, assert_problem, decode_cookie, serving, settled
from tests.support.redis import HeldAnswers, OwnRedis, key_space, redis_url_or_skip
from tests.support.settings import MANAGEMENT_TOKEN, make_settings

pytestmark = pytest.mark.redis

CACHE_SECONDS = 60


def eventually(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def notices_status(api: Api) -> str:
    checks: dict[str, str] = api.call("GET", "/readyz", guard=False).json()["checks"]
    return checks["revocation_notices"]


def subscribed(api: Api) -> None:
    """Wait until the replica's subscription to revocation notices is confirmed."""
    eventually(lambda: notices_status(api) == "ok", "the replica did not subscribe")


def unsubscribed(api: Api, seconds: float = 10) -> None:
    """Wait until the replica reports its subscription lost (its cache unused)."""
    eventually(
        lambda: notices_status(api) != "ok", "the replica still trusts its subscription", seconds
    )


def sample(api: Api, name: str, **labels: str) -> float:
    value = api.app.state.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def hits(api: Api) -> float:
    return sample(api, "bff_revocation_cache_lookups_total", outcome="hit")


def cached(api: Api, cookie: str) -> None:
    """Read once (the replica remembers the session), then show the next read is a cache hit."""
    assert api.me(cookie).status_code == 200
    before = hits(api)
    assert api.me(cookie).status_code == 200
    assert hits(api) == before + 1, "the second read did not come from the replica's memory"


def refused_soon(api: Api, cookie: str) -> None:
    """The session is refused within the notice's bound (1 s + BFF_REDIS_TIMEOUT), then for good."""
    eventually(lambda: api.me(cookie).status_code == 401, "the revocation did not arrive", 3)
    assert_problem(api.me(cookie), 401, "session_revoked")


def revoke_user(api: Api, user: str) -> None:
    response = api.call(
        "POST",
        f"/manage/users/{user}/revoke-sessions",
        guard=False,
        headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
    )
    assert response.status_code == 200


def mget_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats").get("cmdstat_mget", {})
    return int(stats.get("calls", 0))


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    with key_space(redis_url) as prefix:
        yield prefix


@pytest.fixture
def replicas(redis_url: str, prefix: str) -> Iterator[tuple[Api, Api]]:
    settings = make_settings(
        redis_url=redis_url,
        management_token=MANAGEMENT_TOKEN,
        revocation_cache_seconds=CACHE_SECONDS,
    )
    with (
        serving(settings, shared_state=RedisState.from_url(redis_url, prefix=prefix)) as a,
        serving(settings, shared_state=RedisState.from_url(redis_url, prefix=prefix)) as b,
    ):
        subscribed(a)
        subscribed(b)
        yield a, b


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    with OwnRedis() as server:
        yield server


@pytest.fixture
def admin(own_redis: OwnRedis) -> Iterator[redis.Redis]:
    """A plain client of the test's own Redis, for what an operator (or an accident) does."""
    client = redis.Redis.from_url(own_redis.url, socket_timeout=5)
    yield client
    client.close()


@pytest.fixture
def own_replicas(own_redis: OwnRedis) -> Iterator[tuple[Api, Api]]:
    settings = make_settings(
        redis_url=own_redis.url,
        management_token=MANAGEMENT_TOKEN,
        revocation_cache_seconds=CACHE_SECONDS,
    )
    with (
        serving(settings, shared_state=RedisState.from_url(own_redis.url)) as a,
        serving(settings, shared_state=RedisState.from_url(own_redis.url)) as b,
    ):
        subscribed(a)
        subscribed(b)
        yield a, b


# -- a revocation reaches a replica's memory at once -----------------------------------------------


def test_a_logout_on_one_replica_ends_the_session_the_other_remembers(
    replicas: tuple[Api, Api],
) -> None:
    a, b = replicas
    cookie = a.login_cookie()
    cached(b, cookie)
    cached(a, cookie)

    assert a.logout(cookie).status_code == 204

    # The replica that logged out: the very next request.
    assert_problem(a.me(cookie), 401, "session_revoked")
    # The other: once the notice is read, in practice at once; the guarantee's bound is 1 s +
    # BFF_REDIS_TIMEOUT, far below the entry's 60 s (a scheduler's hiccup must not fail CI).
    refused_soon(b, cookie)
    assert_problem(b.whoami(cookie), 401, "session_revoked")


def test_an_operator_revocation_ends_every_session_of_the_user_the_other_replica_remembers(
    replicas: tuple[Api, Api],
) -> None:
    a, b = replicas
    from_a, from_b = a.login_cookie("user-1"), b.login_cookie("user-1")
    other = a.login_cookie("user-2")
    for cookie in (from_a, from_b, other):
        cached(b, cookie)

    revoke_user(a, "user-1")

    for cookie in (from_a, from_b):
        assert_problem(a.me(cookie), 401, "session_revoked")
        refused_soon(b, cookie)
    before = hits(b)
    assert b.me(other).status_code == 200  # another user's session is still remembered
    assert hits(b) == before + 1


def test_a_remembered_session_skips_the_round_trip_and_without_the_cache_every_read_makes_it(
    own_redis: OwnRedis, admin: redis.Redis
) -> None:
    reads = 20
    for seconds, expected in ((CACHE_SECONDS, 1), (0, reads)):
        settings = make_settings(redis_url=own_redis.url, revocation_cache_seconds=seconds)
        with serving(settings, shared_state=RedisState.from_url(own_redis.url)) as api:
            if seconds:
                subscribed(api)
            cookie = api.login_cookie()
            before = mget_calls(admin)
            for _ in range(reads):
                assert api.me(cookie).status_code == 200
            assert mget_calls(admin) - before == expected, f"cache seconds {seconds}"
            subscribers = admin.client_list(_type="pubsub")
            assert len(subscribers) == (1 if seconds else 0)  # no subscription without a cache


# -- the memory is used only while notices are known to arrive -------------------------------------


def test_while_redis_is_down_a_remembered_session_fails_closed(
    own_replicas: tuple[Api, Api], own_redis: OwnRedis
) -> None:
    a, b = own_replicas
    cookie = a.login_cookie()
    cached(b, cookie)

    own_redis.stop()
    unsubscribed(b)
    for _ in range(3):
        assert_problem(b.me(cookie), 503, "shared_state_unavailable")


def test_a_notice_missed_while_the_subscription_was_broken_cannot_leave_a_session_remembered(
    own_replicas: tuple[Api, Api], admin: redis.Redis
) -> None:
    a, b = own_replicas
    cookie = a.login_cookie()
    cached(b, cookie)
    sid = decode_cookie(b.app, cookie).sid
    before = max(client["id"] for client in admin.client_list())

    admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    # Written while no replica listens: the notice of a logout that nobody hears.
    admin.set(f"mbff:rev:sid:{sid}", "1", px=60_000)

    def back() -> bool:
        fresh = [c for c in admin.client_list(_type="pubsub") if int(c["id"]) > int(before)]
        return len(fresh) == 2 and notices_status(b) == "ok"

    eventually(back, "the replicas did not subscribe again")
    assert_problem(b.me(cookie), 401, "session_revoked")


def test_a_silent_redis_is_not_trusted_past_the_heartbeat(
    own_redis: OwnRedis,
) -> None:
    settings = make_settings(redis_url=own_redis.url, revocation_cache_seconds=CACHE_SECONDS)
    with serving(settings, shared_state=RedisState.from_url(own_redis.url)) as api:
        subscribed(api)
        cookie = api.login_cookie()
        cached(api, cookie)

        own_redis.freeze()  # connections stay open; nothing is answered, nothing is closed
        try:
            # A heartbeat every second, answered within BFF_REDIS_TIMEOUT (1 s): lost after 2 s.
            unsubscribed(api, seconds=15)
            assert_problem(api.me(cookie), 503, "shared_state_unavailable")
        finally:
            own_redis.thaw()


def test_a_session_remembered_before_redis_restarted_empty_is_refused(
    own_replicas: tuple[Api, Api], own_redis: OwnRedis, admin: redis.Redis
) -> None:
    a, b = own_replicas
    cookie = a.login_cookie()
    cached(a, cookie)
    cached(b, cookie)

    own_redis.restart_empty()

    # Both subscribed again (every subscription in the new Redis is new), to a Redis that has
    # forgotten every revocation and the epoch; nothing else has asked it anything yet.
    def back() -> bool:
        return len(admin.client_list(_type="pubsub")) == 2 and all(
            notices_status(api) == "ok" for api in (a, b)
        )

    eventually(back, "the replicas did not subscribe again")
    assert admin.dbsize() == 0
    assert_problem(settled(b, cookie), 401, "session_revoked")
    assert_problem(settled(a, cookie), 401, "session_revoked")


def test_a_new_epoch_made_after_data_loss_without_a_restart_reaches_every_replica(
    own_redis: OwnRedis, admin: redis.Redis
) -> None:
    common = {"redis_url": own_redis.url}
    with (
        serving(
            make_settings(**common, revocation_cache_seconds=0),
            shared_state=RedisState.from_url(own_redis.url),
        ) as a,
        serving(
            make_settings(**common, revocation_cache_seconds=CACHE_SECONDS),
            shared_state=RedisState.from_url(own_redis.url),
        ) as b,
    ):
        subscribed(b)
        cookie = a.login_cookie()
        cached(b, cookie)

        admin.flushall()  # no connection breaks: only the new epoch's notice can tell b
        assert_problem(a.me(cookie), 401, "session_revoked")  # a makes the new epoch
        assert_problem(b.me(cookie), 401, "session_revoked")


def test_a_clean_answer_that_was_on_its_way_when_a_notice_arrived_is_not_remembered(
    own_redis: OwnRedis,
) -> None:
    settings = make_settings(
        redis_url=own_redis.url, revocation_cache_seconds=CACHE_SECONDS, redis_timeout=10
    )
    with (
        HeldAnswers(own_redis.port) as link,
        serving(settings, shared_state=RedisState.from_url(own_redis.url)) as a,
        serving(settings, shared_state=RedisState.from_url(link.url)) as b,
    ):
        subscribed(b)
        cookie = a.login_cookie()
        link.hold()
        answers: list[httpx.Response] = []
        reader = threading.Thread(target=lambda: answers.append(b.me(cookie)))
        reader.start()
        link.wait_held()  # Redis answered b's MGET: clean; b has not heard it yet

        notices = sample(b, "bff_revocation_notices_total")
        assert a.logout(cookie).status_code == 204
        eventually(lambda: sample(b, "bff_revocation_notices_total") > notices, "b heard no notice")
        link.release()
        reader.join(timeout=15)

        assert answers[0].status_code == 200  # asked before the logout: a fair answer
        assert_problem(b.me(cookie), 401, "session_revoked")  # but not one to remember


# -- what no notice tells --------------------------------------------------------------------------


def test_a_revocation_written_without_a_notice_is_seen_when_the_entry_expires(
    own_redis: OwnRedis, admin: redis.Redis
) -> None:
    settings = make_settings(redis_url=own_redis.url, revocation_cache_seconds=1)
    with serving(settings, shared_state=RedisState.from_url(own_redis.url)) as api:
        subscribed(api)
        cookie = api.login_cookie()
        assert api.me(cookie).status_code == 200
        # As a replica of an older version writes a logout during a rolling update.
        admin.set(f"mbff:rev:sid:{decode_cookie(api.app, cookie).sid}", "1", px=60_000)
        eventually(lambda: api.me(cookie).status_code == 401, "still served after 10 s", 10)


def test_the_in_process_state_has_no_cache_and_no_subscription() -> None:
    with serving(make_settings()) as api:
        assert api.app.state.sessions.cache is None
        checks = api.call("GET", "/readyz", guard=False).json()["checks"]
        assert "revocation_notices" not in checks


def test_a_redis_user_that_may_not_publish_makes_logout_pending_not_a_server_error(
    own_redis: OwnRedis, admin: redis.Redis
) -> None:
    """A deployment whose Redis ACL forbids PUBLISH: the logout cannot be recorded, and says so."""
    admin.execute_command(
        "ACL", "SETUSER", "nopublish", "on", ">pw", "~*", "&*", "+@all", "-publish"
    )
    url = own_redis.url.replace("redis://", "redis://nopublish:pw@", 1)
    settings = make_settings(redis_url=url, revocation_cache_seconds=CACHE_SECONDS)
    with serving(settings, shared_state=RedisState.from_url(url)) as api:
        cookie = api.login_cookie()
        answer = api.logout(cookie)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"revocationRecorded": False}
        # Refused here at once (the replica keeps the logout pending), never a 500.
        assert_problem(api.me(cookie), 401, "session_revoked")
