"""Two replicas sharing one Redis: logout, operator revocation and used tickets hold on both.

Each replica is its own ``create_app`` with the same settings and its own Redis connections; the
keys live under a prefix unique to the test and are deleted afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
import redis

from app.errors import ErrorCode, ProblemError
from app.main import create_app
from app.session.tickets import TicketVerifier
from app.state.epoch import StateEpoch
from app.state.redis import RedisState
from app.state.store import DEFAULT_PREFIX
from tests.session.conftest import Api, assert_problem, open_client, serving, ticket
from tests.support.redis import key_space, redis_url_or_skip
from tests.support.settings import MANAGEMENT_TOKEN, make_settings

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    with key_space(redis_url) as prefix:
        yield prefix


@pytest.fixture
def replicas(redis_url: str, prefix: str) -> Iterator[tuple[Api, Api]]:
    settings = make_settings(redis_url=redis_url, management_token=MANAGEMENT_TOKEN)
    with (
        serving(settings, shared_state=RedisState.from_url(redis_url, prefix=prefix)) as a,
        serving(settings, shared_state=RedisState.from_url(redis_url, prefix=prefix)) as b,
    ):
        yield a, b


def test_a_session_started_on_one_replica_works_on_the_other(replicas: tuple[Api, Api]) -> None:
    a, b = replicas
    cookie = a.login_cookie()
    assert b.me(cookie).status_code == 200
    assert b.whoami(cookie).status_code == 200


def test_logout_on_one_replica_is_honoured_by_the_other(replicas: tuple[Api, Api]) -> None:
    a, b = replicas
    cookie = a.login_cookie()
    assert b.me(cookie).status_code == 200
    assert a.logout(cookie).status_code == 204
    assert_problem(b.me(cookie), 401, "session_revoked")
    assert_problem(b.whoami(cookie), 401, "session_revoked")


def test_operator_revocation_on_one_replica_is_honoured_by_the_other(
    replicas: tuple[Api, Api],
) -> None:
    a, b = replicas
    from_a, from_b = a.login_cookie("user-1"), b.login_cookie("user-1")
    other = a.login_cookie("user-2")
    response = a.call(
        "POST",
        "/manage/users/user-1/revoke-sessions",
        guard=False,
        headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
    )
    assert response.status_code == 200
    for cookie in (from_a, from_b):
        assert_problem(b.me(cookie), 401, "session_revoked")
        assert_problem(a.me(cookie), 401, "session_revoked")
    assert b.me(other).status_code == 200
    assert b.me(b.login_cookie("user-1")).status_code == 200  # a later login works


def test_a_ticket_used_on_one_replica_is_refused_on_the_other(replicas: tuple[Api, Api]) -> None:
    a, b = replicas
    token = ticket()
    assert a.login(token).status_code == 200
    response = b.login(token)
    assert_problem(response, 401, "ticket_replayed")
    assert response.headers.get_list("set-cookie") == []


def test_concurrent_redemptions_of_one_ticket_on_two_replicas_start_one_session(
    redis_url: str, prefix: str
) -> None:
    settings = make_settings(redis_url=redis_url)

    async def redeem(verifier: TicketVerifier, token: str, outcomes: list[str]) -> None:
        try:
            await verifier.redeem(token)
        except ProblemError as exc:
            outcomes.append(exc.code)
        else:
            outcomes.append("redeemed")

    async def race() -> list[list[str]]:
        states = [RedisState.from_url(redis_url, prefix=prefix) for _ in range(2)]
        verifiers = [TicketVerifier(settings, state) for state in states]
        await StateEpoch(states[0]).current()  # as an app's start-up does, before any ticket
        await anyio.sleep(0.01)
        results = []
        try:
            for _ in range(20):
                token, outcomes = ticket(), []
                async with anyio.create_task_group() as group:
                    for verifier in verifiers:
                        group.start_soon(redeem, verifier, token, outcomes)
                results.append(sorted(outcomes))
        finally:
            for state in states:
                await state.aclose()
        return results

    assert anyio.run(race) == [["redeemed", ErrorCode.TICKET_REPLAYED]] * 20


def test_every_key_in_redis_is_prefixed_and_expires(
    replicas: tuple[Api, Api], redis_url: str, prefix: str
) -> None:
    a, b = replicas
    cookie = a.login_cookie("user-1")
    assert b.logout(cookie).status_code == 204
    a.call(
        "POST",
        "/manage/users/user-2/revoke-sessions",
        guard=False,
        headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
    )
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        # The used ticket, the logged-out session, the revoked user; and the state epoch, which
        # must never expire (app/state/epoch.py).
        assert len(keys) == 4
        for key in keys:
            if key == f"{prefix}epoch".encode():
                assert client.pttl(key) == -1
            else:
                assert 0 < client.pttl(key) <= 43200 * 1000, key
    finally:
        client.close()


def test_redis_url_alone_selects_redis_with_the_default_prefix_and_a_readiness_check(
    redis_url: str,
) -> None:
    app = create_app(make_settings(redis_url=redis_url))
    state = app.state.shared_state
    assert state.name == "redis"
    assert state.prefix == DEFAULT_PREFIX
    with open_client(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["shared_state"] == "ok"
