"""Losing the shared state fails closed: a Redis of the test's own, restarted empty or frozen.

Two replicas (two ``create_app``) share one ``redis-server`` that the test starts on a free port
without persistence. When it restarts empty, every revocation and every used-ticket marker is
gone; the state epoch (app/state/epoch.py) must make sure that nothing they protected works
again: logging everybody out is the accepted price.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from app.session.sessions import SessionManager
from app.state.redis import RedisState
from tests.session.conftest import Api, assert_problem, cleared, serving, settled, ticket
from tests.support.redis import CuttableLink, OwnRedis
from tests.support.settings import MANAGEMENT_TOKEN, make_settings

pytestmark = pytest.mark.redis


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    with OwnRedis() as server:
        yield server


@pytest.fixture
def replicas(own_redis: OwnRedis) -> Iterator[tuple[Api, Api]]:
    settings = make_settings(redis_url=own_redis.url, management_token=MANAGEMENT_TOKEN)
    with (
        serving(settings, shared_state=RedisState.from_url(own_redis.url)) as a,
        serving(settings, shared_state=RedisState.from_url(own_redis.url)) as b,
    ):
        yield a, b


def ready(api: Api) -> None:
    """Wait until Redis answers this replica again (``/readyz`` renews its pooled connections)."""
    deadline = time.monotonic() + 10
    while api.call("GET", "/readyz", guard=False).status_code != 200:
        assert time.monotonic() < deadline, "the replica did not see Redis again"
        time.sleep(0.1)


def test_a_logged_out_session_stays_out_when_redis_restarts_empty(
    replicas: tuple[Api, Api], own_redis: OwnRedis
) -> None:
    a, b = replicas
    out, live = a.login_cookie("user-1"), a.login_cookie("user-2")
    assert b.logout(out).status_code == 204
    assert_problem(a.me(out), 401, "session_revoked")

    own_redis.restart_empty()  # the revocation is gone with everything else

    for api in (a, b):
        assert_problem(settled(api, out), 401, "session_revoked")
        # Everybody is logged out: the price of not knowing what was revoked.
        assert_problem(settled(api, live), 401, "session_revoked")
    # A new login works at once, on both replicas.
    again = b.login_cookie("user-1")
    assert a.me(again).status_code == 200


def test_an_operator_revocation_survives_redis_restarting_empty(
    replicas: tuple[Api, Api], own_redis: OwnRedis
) -> None:
    a, b = replicas
    cookie = a.login_cookie("user-1")
    revoked = a.call(
        "POST",
        "/manage/users/user-1/revoke-sessions",
        guard=False,
        headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
    )
    assert revoked.status_code == 200

    own_redis.restart_empty()

    assert_problem(settled(b, cookie), 401, "session_revoked")


def test_a_spent_ticket_is_not_accepted_again_when_redis_restarts_empty(
    replicas: tuple[Api, Api], own_redis: OwnRedis
) -> None:
    a, b = replicas
    token = ticket("user-1")
    assert a.login(token).status_code == 200
    assert_problem(b.login(token), 401, "ticket_replayed")

    own_redis.restart_empty()  # the "used" marker is gone
    ready(b)

    response = b.login(token)
    assert_problem(response, 401, "ticket_expired")
    assert response.headers.get_list("set-cookie") == []
    assert b.login(ticket("user-1")).status_code == 200  # a ticket minted now works


def test_logout_on_a_replica_cut_off_from_redis_clears_the_cookie_and_is_recorded_later(
    own_redis: OwnRedis,
) -> None:
    settings = make_settings(redis_url=own_redis.url)
    with (
        CuttableLink(own_redis.port) as link,
        serving(settings, shared_state=RedisState.from_url(link.url)) as a,
        serving(settings, shared_state=RedisState.from_url(own_redis.url)) as b,
    ):
        cookie = a.login_cookie("user-1")
        link.cut()  # a loses Redis; Redis keeps its data, b still reaches it

        response = a.logout(cookie)
        assert response.status_code == 202
        assert response.json() == {"revocationRecorded": False}
        assert cleared(response, a.cookie_name)
        # The replica that took the logout refuses the session at once, without Redis...
        assert_problem(a.me(cookie), 401, "session_revoked")
        # ...the other cannot know yet (the documented window of a partition).
        assert b.me(cookie).status_code == 200

        link.restore()
        # Written by a's background task as soon as Redis answers it again (every 0.5 s).
        deadline = time.monotonic() + 5
        while b.me(cookie).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert_problem(b.me(cookie), 401, "session_revoked")
        sessions: SessionManager = a.app.state.sessions
        assert sessions.pending == {}
        assert b.login_cookie("user-2")  # nobody else was logged out


def test_logout_while_redis_is_down_removes_the_cookie_and_an_empty_redis_refuses_it(
    replicas: tuple[Api, Api], own_redis: OwnRedis
) -> None:
    a, b = replicas
    cookie = a.login_cookie("user-1")

    own_redis.stop()
    response = b.logout(cookie)
    assert response.status_code == 202
    assert response.json() == {"revocationRecorded": False}
    assert cleared(response, b.cookie_name)

    own_redis.start()  # back, empty
    assert_problem(settled(a, cookie), 401, "session_revoked")
    assert_problem(settled(b, cookie), 401, "session_revoked")
