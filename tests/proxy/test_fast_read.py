"""The reads' short path (app/upstream/router.py: _ReadRoute) answers exactly as FastAPI's would.

The two reads skip FastAPI's dependency solving for plain requests. Each test here sends the same
sequence of requests to two services that differ only in that: one as built, one whose reads
always take the FastAPI path. Every answer must be the same (status, body, the headers that are
not per request, the cookies set); and a plain read must not reach the FastAPI path at all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute

from app.upstream import router as calendar_router
from sandbox.seed import ALICE_ID
from tests.proxy.conftest import MakeBff
from tests.proxy.support import API, Bff, BrowserResponse, SandboxAdmin

# Differ from one answer to the next whatever the path: the request id (in the header and the
# problem body), the date, and the session cookie's re-issue time.
_VOLATILE_HEADERS = {"date", "x-request-id", "set-cookie", "content-length"}
REFRESH_INTERVAL = 1  # seconds: the session cookie is re-issued on activity after this
_REQUEST_ID = re.compile(rb'"requestId":"[^"]*"')


def _normal(response: BrowserResponse) -> dict[str, Any]:
    headers = {
        name: value
        for name, value in response.headers.multi_items()
        if name.lower() not in _VOLATILE_HEADERS
    }
    cookies = sorted(
        header.split("=", 1)[0] + (";cleared" if "Max-Age=0" in header else "")
        for header in response.headers.get_list("set-cookie")
    )
    return {
        "status": response.status_code,
        "headers": sorted(headers.items()),
        "cookies": cookies,
        "body": _REQUEST_ID.sub(b'"requestId":"-"', response.content),
    }


Step = Callable[[Bff, str], BrowserResponse]


def _steps() -> list[tuple[str, Step]]:
    calendars = API + "/connections/{}/calendars"
    return [
        ("list, a miss", lambda bff, c: bff.call("GET", API + "/connections")),
        ("list, a hit", lambda bff, c: bff.call("GET", API + "/connections")),
        ("calendars", lambda bff, c: bff.call("GET", calendars.format(c))),
        ("calendars, a hit", lambda bff, c: bff.call("GET", calendars.format(c))),
        ("unknown connection", lambda bff, c: bff.call("GET", calendars.format("c-unknown"))),
        ("malformed id", lambda bff, c: bff.call("GET", calendars.format("-bad"))),
        ("too long an id", lambda bff, c: bff.call("GET", calendars.format("a" * 129))),
        ("a stray query", lambda bff, c: bff.call("GET", API + "/connections?userId=x")),
        ("an empty query", lambda bff, c: bff.call("GET", API + "/connections?")),
        ("a body", lambda bff, c: bff.call("GET", API + "/connections", content=b"{}")),
        (
            "an empty body",
            lambda bff, c: bff.call("GET", API + "/connections", headers={"Content-Length": "0"}),
        ),
        ("HEAD", lambda bff, c: bff.call("HEAD", API + "/connections")),
        (
            "no CSRF header",
            lambda bff, c: bff.call("GET", API + "/connections", headers={"X-CSRF": ""}),
        ),
        (
            "a foreign origin",
            lambda bff, c: bff.call(
                "GET", API + "/connections", headers={"Origin": "https://evil.test"}
            ),
        ),
        ("a read after the refresh interval: the cookie slides", _after_refresh_interval),
        ("no session", _without_session),
        ("a forged session", _forged_session),
    ]


def _after_refresh_interval(bff: Bff, connection: str) -> BrowserResponse:
    del connection
    time.sleep(REFRESH_INTERVAL + 0.1)
    return bff.call("GET", API + "/connections")


def _without_session(bff: Bff, connection: str) -> BrowserResponse:
    del connection
    cookie, bff.cookie = bff.cookie, ""
    try:
        return bff.call("GET", API + "/connections")
    finally:
        bff.cookie = cookie


def _forged_session(bff: Bff, connection: str) -> BrowserResponse:
    del connection
    cookie, bff.cookie = bff.cookie, bff.cookie[:-4] + "AAAA"
    try:
        return bff.call("GET", API + "/connections")
    finally:
        bff.cookie = cookie


@pytest.fixture
def fastapi_path_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests a calendar read's FastAPI path handled."""
    calls: list[str] = []
    original = APIRoute.handle

    async def counted(self: APIRoute, scope: Any, receive: Any, send: Any) -> None:
        if isinstance(self, calendar_router._ReadRoute):
            calls.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", counted)
    return calls


def _answers(bff: Bff, connection: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, _normal(step(bff, connection))) for name, step in _steps()]


def test_every_read_answers_as_the_fastapi_path_does(
    make_bff: MakeBff, sandbox: SandboxAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = sandbox.connect("alice@gmail.example")
    short = make_bff(cache_ttl=30, session_refresh_interval=REFRESH_INTERVAL)
    answers = _answers(short, connection)

    monkeypatch.setattr(calendar_router._ReadRoute, "_plain", lambda self, scope: None)
    long = make_bff(cache_ttl=30, session_refresh_interval=REFRESH_INTERVAL)
    expected = _answers(long, connection)

    for (name, got), (_, want) in zip(answers, expected, strict=True):
        assert got == want, name
    statuses = {name: answer["status"] for name, answer in answers}
    # The sequence covers what it says it does: hits, misses and each kind of refusal.
    assert statuses["list, a hit"] == 200
    assert statuses["unknown connection"] == 404
    assert statuses["malformed id"] == statuses["a stray query"] == statuses["a body"] == 422
    assert statuses["no session"] == statuses["a forged session"] == 401
    assert dict(answers)["list, a hit"]["headers"] != dict(answers)["list, a miss"]["headers"]
    assert dict(answers)["a read after the refresh interval: the cookie slides"]["cookies"]


def test_an_unmapped_user_is_refused_alike(
    make_bff: MakeBff, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = make_bff(meetergo_user_id=None)
    got = _normal(short.call("GET", API + "/connections"))
    monkeypatch.setattr(calendar_router._ReadRoute, "_plain", lambda self, scope: None)
    long = make_bff(meetergo_user_id=None)
    assert got == _normal(long.call("GET", API + "/connections"))
    assert got["status"] == 403


def test_a_plain_read_never_reaches_the_fastapi_path(
    bff: Bff, sandbox: SandboxAdmin, fastapi_path_calls: list[str]
) -> None:
    connection = sandbox.connect("alice@gmail.example")
    assert bff.call("GET", API + "/connections").status_code == 200
    assert bff.call("GET", f"{API}/connections/{connection}/calendars").status_code == 200
    assert fastapi_path_calls == []

    assert bff.call("GET", API + "/connections?userId=" + ALICE_ID).status_code == 422
    assert fastapi_path_calls == [API + "/connections"]
