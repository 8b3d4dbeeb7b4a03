"""A session's life on one replica: idle and absolute timeouts, the sliding refresh, revocation.

Time is a fake clock shared by the session manager and the in-process shared state; cookies are
sent explicitly, as a browser (or an attacker replaying a copied cookie) would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from app.session.cookie import SECURE_NAME
from tests.session.conftest import (
    Api,
    FakeClock,
    assert_problem,
    cleared,
    decode_cookie,
    new_cookie,
    serving,
    set_cookies,
    ticket,
)
from tests.support.settings import MANAGEMENT_TOKEN, make_settings

# -- timeouts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("idle", [1800, 120])
def test_session_ends_after_the_idle_timeout(clock: FakeClock, idle: int) -> None:
    with serving(make_settings(session_idle_timeout=idle), clock=clock) as api:
        cookie = api.login_cookie()
        clock.advance(idle - 1)
        assert api.me(cookie).status_code == 200
        clock.advance(1)
        response = api.me(cookie)
        assert_problem(response, 401, "session_expired")
        assert cleared(response, SECURE_NAME)
        assert_problem(api.whoami(cookie), 401, "session_expired")


@pytest.mark.parametrize(
    ("idle", "absolute", "step"), [(1800, 43200, 1700), (300, 900, 250), (120, 300, 100)]
)
def test_session_ends_at_the_absolute_timeout_however_active(
    clock: FakeClock, idle: int, absolute: int, step: int
) -> None:
    settings = make_settings(session_idle_timeout=idle, session_absolute_timeout=absolute)
    with serving(settings, clock=clock) as api:
        cookie = api.login_cookie()
        elapsed = 0
        while elapsed + step < absolute:
            clock.advance(step)
            elapsed += step
            response = api.whoami(cookie)
            assert response.status_code == 200, (elapsed, response.text)
            cookie = new_cookie(response, SECURE_NAME) or cookie
        clock.advance(absolute - elapsed)
        response = api.whoami(cookie)
        assert_problem(response, 401, "session_expired")
        assert cleared(response, SECURE_NAME)


# -- sliding refresh -------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [60, 300])
def test_activity_reissues_the_cookie_only_after_the_refresh_interval(
    clock: FakeClock, interval: int
) -> None:
    with serving(make_settings(session_refresh_interval=interval), clock=clock) as api:
        login = api.login(ticket())
        cookie = new_cookie(login, SECURE_NAME)
        assert cookie is not None
        before = decode_cookie(api.app, cookie)

        clock.advance(interval - 1)
        early = api.whoami(cookie)
        assert early.status_code == 200
        assert set_cookies(early, SECURE_NAME) == []

        clock.advance(1)
        due = api.whoami(cookie)
        assert due.status_code == 200
        refreshed = new_cookie(due, SECURE_NAME)
        assert refreshed is not None
        after = decode_cookie(api.app, refreshed)
        assert (after.sid, after.sub, after.mid, after.iat) == (
            before.sid,
            before.sub,
            before.mid,
            before.iat,
        )
        assert after.seen == clock.now
        # Re-issued with the same attributes as at login.
        assert set_cookies(due, SECURE_NAME)[0][1] == set_cookies(login, SECURE_NAME)[0][1]


def test_sliding_refresh_keeps_an_active_session_past_its_first_idle_deadline(
    clock: FakeClock, api: Api
) -> None:
    first = api.login_cookie()
    clock.advance(1700)
    second = new_cookie(api.whoami(first), SECURE_NAME)
    assert second is not None
    clock.advance(1700)  # 3400 s after login, 1700 s after the last activity
    assert api.me(second).status_code == 200
    # The copy without the later activity has passed its own idle deadline.
    assert_problem(api.me(first), 401, "session_expired")


def test_auth_me_never_reissues_the_cookie_nor_extends_the_idle_timeout(
    clock: FakeClock, api: Api
) -> None:
    cookie = api.login_cookie()
    for _ in range(17):
        clock.advance(100)  # past the refresh interval every time; 1700 s in all
        response = api.me(cookie)
        assert response.status_code == 200
        assert set_cookies(response, SECURE_NAME) == []
    clock.advance(100)  # 1800 s after login: the polls did not count as activity
    assert_problem(api.me(cookie), 401, "session_expired")


# -- logout and revocation -------------------------------------------------------------------------


def test_replaying_a_cookie_after_logout_fails(api: Api) -> None:
    cookie = api.login_cookie()
    assert api.me(cookie).status_code == 200
    assert api.logout(cookie).status_code == 204
    for path in ("/auth/me", "/api/test/whoami"):
        response = api.call("GET", path, cookie=cookie)
        assert_problem(response, 401, "session_revoked")
        assert cleared(response, SECURE_NAME)


def test_logout_also_ends_earlier_and_later_copies_of_the_session(
    clock: FakeClock, api: Api
) -> None:
    original = api.login_cookie()
    clock.advance(60)
    refreshed = new_cookie(api.whoami(original), SECURE_NAME)
    assert refreshed is not None
    assert refreshed != original
    assert api.logout(refreshed).status_code == 204
    assert_problem(api.me(original), 401, "session_revoked")
    assert_problem(api.me(refreshed), 401, "session_revoked")


def test_logout_ends_only_that_session(api: Api) -> None:
    laptop = api.login_cookie("user-1")
    phone = api.login_cookie("user-1")
    assert api.logout(laptop).status_code == 204
    assert api.me(phone).status_code == 200


def test_a_new_login_replaces_the_browsers_previous_session(app: FastAPI, api: Api) -> None:
    previous = api.login_cookie("user-1")
    response = api.login(ticket("user-2"), cookie=previous)
    assert response.status_code == 200
    current = new_cookie(response, SECURE_NAME)
    assert current is not None
    assert decode_cookie(app, current).sid != decode_cookie(app, previous).sid
    assert_problem(api.me(previous), 401, "session_revoked")
    assert api.me(current).json()["appUserId"] == "user-2"


# -- the operator's "revoke every session of user X" -----------------------------------------------


@pytest.fixture
def managed(clock: FakeClock) -> Iterator[Api]:
    with serving(make_settings(management_token=MANAGEMENT_TOKEN), clock=clock) as api:
        yield api


def revoke_user(api: Api, user: str, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    # Server to server: no CSRF header, no Origin, no cookie.
    return api.call("POST", f"/manage/users/{user}/revoke-sessions", guard=False, headers=headers)


def test_operator_revokes_every_session_of_one_user(clock: FakeClock, managed: Api) -> None:
    api = managed
    laptop, phone = api.login_cookie("user-1"), api.login_cookie("user-1")
    other = api.login_cookie("user-2")
    clock.advance(1)

    response = revoke_user(api, "user-1", f"Bearer {MANAGEMENT_TOKEN}")
    assert response.status_code == 200
    revoked_before = datetime.fromisoformat(response.json()["revokedBefore"])
    assert revoked_before == datetime.fromtimestamp(clock.now, UTC)

    for cookie in (laptop, phone):
        assert_problem(api.me(cookie), 401, "session_revoked")
        assert_problem(api.whoami(cookie), 401, "session_revoked")
    assert api.me(other).status_code == 200
    # The user can sign in again afterwards.
    clock.advance(1)
    assert api.me(api.login_cookie("user-1")).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        f"Bearer {MANAGEMENT_TOKEN}x",
        f"Bearer {MANAGEMENT_TOKEN[:-1]}",
        f"Basic {MANAGEMENT_TOKEN}",
        MANAGEMENT_TOKEN,
    ],
    ids=["absent", "empty", "no-token", "longer", "shorter", "basic", "bare"],
)
def test_management_endpoint_refuses_a_missing_or_wrong_token(
    managed: Api, authorization: str | None
) -> None:
    cookie = managed.login_cookie("user-1")
    response = revoke_user(managed, "user-1", authorization)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert managed.me(cookie).status_code == 200  # nothing was revoked


def test_management_endpoint_does_not_exist_without_a_token(api: Api) -> None:
    cookie = api.login_cookie("user-1")
    response = revoke_user(api, "user-1", f"Bearer {MANAGEMENT_TOKEN}")
    assert_problem(response, 404, "not_found")
    assert api.me(cookie).status_code == 200
