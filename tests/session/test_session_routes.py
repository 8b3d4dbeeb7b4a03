"""The /auth routes' answers, the meetergo-user dependency, and the shared state being down."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.session.cookie import SECURE_NAME, SessionData
from app.session.identity import new_session_id
from app.session.mapping import UserMappingUnavailable
from app.session.sessions import SessionManager
from app.state.redis import RedisState
from tests.session.conftest import (
    ALICE_MID,
    BOB_MID,
    WHOAMI,
    WHOAMI_METHODS,
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


def iso(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def profile_times(body: dict[str, object]) -> tuple[datetime, datetime]:
    return (
        datetime.fromisoformat(str(body["expiresAt"])),
        datetime.fromisoformat(str(body["absoluteExpiresAt"])),
    )


# -- POST /auth/session and GET /auth/me ---------------------------------------------------------


@pytest.mark.parametrize(
    ("mid", "name", "mapped"), [(ALICE_MID, "Ada Lovelace", True), (None, None, False)]
)
def test_login_and_me_answer_the_same_minimal_profile(
    clock: FakeClock, api: Api, mid: str | None, name: str | None, mapped: bool
) -> None:
    start = clock.now
    login = api.login(ticket("user-1", name=name, meetergo_user_id=mid, email="a@app.test"))
    assert login.status_code == 200
    assert login.headers["cache-control"] == "no-store"
    expected = {
        "appUserId": "user-1",
        "name": name,
        "meetergoUserMapped": mapped,
    }
    body = login.json()
    assert {key: body[key] for key in expected} == expected
    assert set(body) == {*expected, "authenticated", "expiresAt", "absoluteExpiresAt"}
    assert body["authenticated"] is True
    assert profile_times(body) == (iso(start + 1800), iso(start + 43200))

    clock.advance(100)
    me = api.me(new_cookie(login, SECURE_NAME))
    assert me.status_code == 200
    assert me.headers["cache-control"] == "no-store"
    assert me.json() == body  # polling does not move the idle deadline


def test_me_reports_the_moved_idle_deadline_after_activity(clock: FakeClock, api: Api) -> None:
    start = clock.now
    cookie = api.login_cookie()
    clock.advance(600)
    refreshed = new_cookie(api.whoami(cookie), SECURE_NAME)
    assert profile_times(api.me(refreshed).json()) == (iso(start + 2400), iso(start + 43200))


def test_idle_deadline_is_never_reported_after_the_absolute_one(clock: FakeClock) -> None:
    settings = make_settings(session_idle_timeout=600, session_absolute_timeout=900)
    with serving(settings, clock=clock) as api:
        start = clock.now
        cookie = api.login_cookie()
        clock.advance(500)
        refreshed = new_cookie(api.whoami(cookie), SECURE_NAME)
        assert profile_times(api.me(refreshed).json()) == (iso(start + 900), iso(start + 900))


def test_me_without_a_session_is_unauthenticated(api: Api) -> None:
    response = api.me(None)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["cache-control"] == "no-store"


# -- POST /auth/logout ----------------------------------------------------------------------------


@pytest.mark.parametrize("signed_in", [True, False])
def test_logout_answers_no_store_clear_site_data_and_expires_the_cookie(
    api: Api, signed_in: bool
) -> None:
    cookie = api.login_cookie() if signed_in else None
    response = api.logout(cookie)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["clear-site-data"] == '"cookies"'
    assert cleared(response, SECURE_NAME)
    [(_, attributes)] = set_cookies(response, SECURE_NAME)
    assert {"secure", "httponly"} <= set(attributes)
    assert attributes["path"] == "/"
    assert "domain" not in attributes


def test_logout_can_leave_other_cookies_of_the_domain_alone() -> None:
    with serving(make_settings(logout_clear_site_data=False)) as api:
        response = api.logout(api.login_cookie())
        assert response.status_code == 204
        assert "clear-site-data" not in response.headers
        assert cleared(response, SECURE_NAME)


def test_logout_with_an_unreadable_cookie_still_expires_it(api: Api) -> None:
    response = api.logout("garbage")
    assert response.status_code == 204
    assert cleared(response, SECURE_NAME)


# -- the meetergo user id dependency ---------------------------------------------------------------


@pytest.mark.parametrize("method", WHOAMI_METHODS)
def test_unmapped_user_can_sign_in_but_not_make_calendar_calls(api: Api, method: str) -> None:
    cookie = api.login_cookie("user-1", meetergo_user_id=None)
    assert api.me(cookie).json()["meetergoUserMapped"] is False
    assert_problem(api.call(method, WHOAMI, cookie=cookie), 403, "user_not_mapped")


def test_mapped_user_makes_calendar_calls_as_their_meetergo_user(api: Api) -> None:
    cookie = api.login_cookie("user-1", meetergo_user_id=ALICE_MID)
    response = api.whoami(cookie)
    assert response.status_code == 200
    assert response.json() == {"meetergoUserId": ALICE_MID}


def test_calendar_calls_need_a_session(api: Api) -> None:
    assert_problem(api.whoami(None), 401, "unauthenticated")


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"user-1": BOB_MID}), encoding="utf-8")
    return path


class DownMapping:
    source = "http"

    async def lookup(self, app_user_id: str) -> str | None:
        raise UserMappingUnavailable("the app's endpoint timed out")


def test_a_mapped_id_is_used_but_never_kept_in_the_cookie(
    clock: FakeClock, mapping_file: Path
) -> None:
    settings = make_settings(user_mapping="file", user_mapping_file=str(mapping_file))
    with serving(settings, clock=clock) as api:
        login = api.login(ticket("user-1", meetergo_user_id=None))
        assert login.json()["meetergoUserMapped"] is True  # the mapping answered at login...
        cookie = new_cookie(login, SECURE_NAME)
        assert cookie is not None
        assert decode_cookie(api.app, cookie).mid is None  # ...but the cookie does not keep it
        clock.advance(10)
        response = api.whoami(cookie)
        assert response.json() == {"meetergoUserId": BOB_MID}
        # Every call asks the mapping: while it is down, calls wait rather than trust the past.
        api.app.state.user_mapping = DownMapping()
        assert_problem(api.whoami(cookie), 503, "user_mapping_unavailable")


def test_me_reports_a_mapping_made_after_login_without_extending_the_idle_timeout(
    clock: FakeClock, mapping_file: Path
) -> None:
    settings = make_settings(user_mapping="file", user_mapping_file=str(mapping_file))
    with serving(settings, clock=clock) as api:
        sessions: SessionManager = api.app.state.sessions
        start = clock.now
        cookie = sessions.codec.encode(
            SessionData(
                sid=new_session_id(),
                sub="user-1",
                mid=None,
                name=None,
                iat=start,
                seen=start,
                ep=api.epoch(),
            )
        )
        clock.advance(300)
        response = api.me(cookie)
        assert response.json()["meetergoUserMapped"] is True
        assert new_cookie(response, SECURE_NAME) is None  # nothing to re-issue
        assert profile_times(response.json())[0] == iso(start + 1800)


def test_mapping_outage_lets_users_sign_in_but_calendar_calls_wait(api: Api) -> None:
    api.app.state.user_mapping = DownMapping()
    login = api.login(ticket("user-1", meetergo_user_id=None))
    assert login.status_code == 200
    assert login.json()["meetergoUserMapped"] is False
    cookie = new_cookie(login, SECURE_NAME)
    assert api.me(cookie).json()["meetergoUserMapped"] is False
    response = api.whoami(cookie)
    assert_problem(response, 503, "user_mapping_unavailable")
    assert int(response.headers["retry-after"]) > 0
    assert not cleared(response, SECURE_NAME)


# -- the shared state down ------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def state_down() -> Iterator[Api]:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings = make_settings(redis_url=url, management_token=MANAGEMENT_TOKEN)
    with serving(settings, shared_state=RedisState.from_url(url)) as api:
        yield api


def live_cookie(app: FastAPI) -> str:
    sessions: SessionManager = app.state.sessions
    now = time.time()
    data = SessionData(
        sid=new_session_id(), sub="user-1", mid=ALICE_MID, name=None, iat=now, seen=now, ep="e"
    )
    return sessions.codec.encode(data)


def call_login(api: Api, cookie: str) -> httpx.Response:
    return api.login(ticket())


DOWN_CALLS: dict[str, Callable[[Api, str], httpx.Response]] = {
    "me": lambda api, cookie: api.me(cookie),
    "calendar-call": lambda api, cookie: api.whoami(cookie),
    "login": call_login,
    "operator-revoke": lambda api, _: api.call(
        "POST",
        "/manage/users/user-1/revoke-sessions",
        guard=False,
        headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
    ),
}


@pytest.mark.parametrize("call", list(DOWN_CALLS.values()), ids=list(DOWN_CALLS))
def test_shared_state_down_fails_closed_with_503_and_retry_after(
    state_down: Api, call: Callable[[Api, str], httpx.Response]
) -> None:
    cookie = live_cookie(state_down.app)
    response = call(state_down, cookie)
    assert_problem(response, 503, "shared_state_unavailable")
    assert int(response.headers["retry-after"]) > 0
    # A blip of the shared state does not sign anybody out.
    assert not cleared(response, SECURE_NAME)


def test_logout_while_the_shared_state_is_down_still_removes_the_cookie_and_says_so(
    state_down: Api,
) -> None:
    response = state_down.logout(live_cookie(state_down.app))
    assert response.status_code == 202
    assert response.json() == {"revocationRecorded": False}
    assert response.headers["cache-control"] == "no-store"
    assert cleared(response, SECURE_NAME)
    sessions: SessionManager = state_down.app.state.sessions
    assert len(sessions.pending) == 1


def test_shared_state_down_makes_the_replica_not_ready(state_down: Api) -> None:
    response = state_down.call("GET", "/readyz", guard=False)
    assert response.status_code == 503
    assert response.json()["checks"]["shared_state"] == "failing"


# -- GET /auth/status: being signed out is a state, not an error ----------------------------------


def status(api: Api, cookie: str | None) -> httpx.Response:
    return api.call("GET", "/auth/status", cookie=cookie)


def test_status_without_a_session_answers_200_signed_out_unauthenticated(api: Api) -> None:
    response = status(api, None)
    assert response.status_code == 200
    assert response.json() == {"authenticated": False, "code": "unauthenticated"}
    assert response.headers["cache-control"] == "no-store"


def test_status_with_a_session_answers_the_same_profile_as_me(api: Api) -> None:
    cookie = api.login_cookie()
    answer = status(api, cookie)
    assert answer.status_code == 200
    assert answer.json()["authenticated"] is True
    assert answer.json() == api.me(cookie).json()


def test_status_says_why_a_session_ended_and_drops_its_cookie(clock: FakeClock, api: Api) -> None:
    expired = api.login_cookie()
    clock.advance(1801)
    answer = status(api, expired)
    assert answer.json() == {"authenticated": False, "code": "session_expired"}
    assert cleared(answer, SECURE_NAME)
    ended = api.login_cookie()
    assert api.logout(ended).status_code == 204
    assert status(api, ended).json() == {"authenticated": False, "code": "session_revoked"}


def test_status_is_no_way_around_the_csrf_header(api: Api) -> None:
    cookie = api.login_cookie()
    response = api.call("GET", "/auth/status", cookie=cookie, guard=False)
    assert_problem(response, 403, "csrf_failed")


def test_status_does_not_extend_the_idle_timeout(clock: FakeClock, api: Api) -> None:
    cookie = api.login_cookie()
    for _ in range(17):
        clock.advance(100)
        assert status(api, cookie).json()["authenticated"] is True
    clock.advance(100)
    assert status(api, cookie).json() == {"authenticated": False, "code": "session_expired"}
