"""A change of the user mapping reaches sessions that are already open, within the cache time.

The mapping sources are real: an HTTP endpoint of the app's, served on a socket and edited by the
test, and a mapping file the test rewrites. The session was started before the change; its next
calendar call after ``BFF_USER_MAPPING_CACHE_TTL`` (the file: after one look at it) must use the
new answer, or refuse when the user is no longer mapped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.session.mapping import FILE_CHECK_INTERVAL
from tests.session.conftest import ALICE_MID, BOB_MID, Api, assert_problem, serving
from tests.support.servers import serve
from tests.support.settings import make_settings

CACHE_TTL = 1  # seconds; the setting is whole seconds
SLACK = 0.4  # the guarantee is "within the ttl": the test looks once, a little after it


def whoami(api: Api, cookie: str) -> str | None:
    response = api.whoami(cookie)
    if response.status_code == 403:
        assert_problem(response, 403, "user_not_mapped")
        return None
    assert response.status_code == 200, response.text
    mid: str = response.json()["meetergoUserId"]
    return mid


def login_unclaimed(api: Api) -> str:
    """A session started from a ticket without a meetergo_user_id claim: the mapping decides."""
    return api.login_cookie("user-1", meetergo_user_id=None)


# -- the app's HTTP endpoint ---------------------------------------------------------------------


@pytest.fixture
def answers() -> dict[str, str]:
    """What the endpoint answers: app user id -> meetergo user id; a missing user gets 404."""
    return {"user-1": ALICE_MID}


@pytest.fixture
def endpoint_url(answers: dict[str, str]) -> Iterator[str]:
    async def lookup(request: Request) -> Response:
        user = request.query_params.get("user", "")
        if user not in answers:
            return PlainTextResponse("no such user", status_code=404)
        return JSONResponse({"meetergoUserId": answers[user]})

    with serve(Starlette(routes=[Route("/map", lookup)])) as server:
        yield f"{server.url}/map"


@pytest.fixture
def http_api(endpoint_url: str) -> Iterator[Api]:
    settings = make_settings(
        user_mapping="http", user_mapping_url=endpoint_url, user_mapping_cache_ttl=CACHE_TTL
    )
    with serving(settings) as api:
        yield api


def test_an_endpoint_answering_another_id_moves_open_sessions_within_the_cache_time(
    http_api: Api, answers: dict[str, str]
) -> None:
    cookie = login_unclaimed(http_api)
    assert whoami(http_api, cookie) == ALICE_MID

    answers["user-1"] = BOB_MID
    time.sleep(CACHE_TTL + SLACK)

    assert whoami(http_api, cookie) == BOB_MID


def test_an_endpoint_answering_404_ends_calendar_access_of_open_sessions_within_the_cache_time(
    http_api: Api, answers: dict[str, str]
) -> None:
    cookie = login_unclaimed(http_api)
    assert whoami(http_api, cookie) == ALICE_MID

    del answers["user-1"]
    time.sleep(CACHE_TTL + SLACK)

    assert whoami(http_api, cookie) is None  # 403 user_not_mapped
    assert http_api.me(cookie).json()["meetergoUserMapped"] is False


def test_a_tickets_own_claim_stays_fixed_for_the_session(
    http_api: Api, answers: dict[str, str]
) -> None:
    cookie = http_api.login_cookie("user-1", meetergo_user_id=ALICE_MID)
    del answers["user-1"]
    time.sleep(CACHE_TTL + SLACK)
    assert whoami(http_api, cookie) == ALICE_MID  # documented: the claim is the app's word


# -- a mapping file --------------------------------------------------------------------------------


def rewrite(path: Path, mapping: dict[str, str]) -> None:
    path.write_text(json.dumps(mapping), encoding="utf-8")
    # A new mtime even on file systems with a coarse clock: the change is what is detected.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"user-1": ALICE_MID}), encoding="utf-8")
    return path


@pytest.fixture
def file_api(mapping_file: Path) -> Iterator[Api]:
    settings = make_settings(user_mapping="file", user_mapping_file=str(mapping_file))
    with serving(settings) as api:
        yield api


def test_a_user_removed_from_the_mapping_file_loses_calendar_access_in_open_sessions(
    file_api: Api, mapping_file: Path
) -> None:
    cookie = login_unclaimed(file_api)
    assert whoami(file_api, cookie) == ALICE_MID

    rewrite(mapping_file, {"someone-else": BOB_MID})
    time.sleep(FILE_CHECK_INTERVAL + SLACK)

    assert whoami(file_api, cookie) is None  # 403 user_not_mapped


def test_a_user_moved_to_another_id_in_the_mapping_file_follows_in_open_sessions(
    file_api: Api, mapping_file: Path
) -> None:
    cookie = login_unclaimed(file_api)
    assert whoami(file_api, cookie) == ALICE_MID

    rewrite(mapping_file, {"user-1": BOB_MID})
    time.sleep(FILE_CHECK_INTERVAL + SLACK)

    assert whoami(file_api, cookie) == BOB_MID
