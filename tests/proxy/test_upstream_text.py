"""Upstream text never reaches the browser unfiltered, and the service reads a bounded answer.

The upstream here is a fake meetergo on a real socket that quotes the request back (as a careless
gateway in front of meetergo might): the ``Authorization`` header, whole or in part, inside error
messages, field names and even a successful body. The service runs under uvicorn on its own socket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.main import create_app
from app.session.sessions import SessionManager
from app.upstream.responses import WITHHELD
from app.upstream.sender import MAX_UPSTREAM_BODY_BYTES
from tests.proxy.support import API, GUARD, cookie_value, proxy_settings, ticket
from tests.support.servers import RunningServer, serve
from tests.support.settings import API_KEY

KEY_SECRET_PART = API_KEY.rsplit(":", 1)[1]


def _echo_answer(mode: str, authorization: str) -> Response:  # noqa: PLR0911 - one table
    def nest(status: int, body: dict[str, Any]) -> Response:
        return Response(json.dumps(body), status, media_type="application/json")

    if mode == "whole-key-in-messages":
        return nest(
            400,
            {
                "statusCode": 400,
                "message": [f"bad header {authorization}"],
                "errors": [{"field": "authorization", "message": authorization}],
            },
        )
    if mode == "tail-of-key":
        return nest(400, {"statusCode": 400, "message": f"token ...{authorization[-14:]} refused"})
    if mode == "key-in-field-name":
        return nest(400, {"statusCode": 400, "errors": [{"field": authorization, "message": "x"}]})
    if mode == "url-and-markup":
        return nest(
            400,
            {
                "statusCode": 400,
                "message": ["see https://gw.example/debug?q=1", "<script>alert(1)</script>"],
                "errors": [{"field": "primaryCalendar", "message": "GET /v4/x?userId=a"}],
            },
        )
    if mode == "safe-validation":
        return nest(
            400,
            {
                "statusCode": 400,
                "message": "Validation failed",
                "errors": [
                    {"field": "primaryCalendar", "message": "primaryCalendar must be a string"},
                    {"field": "selectedCalendars[0]", "message": "must be one of: a, b"},
                ],
            },
        )
    if mode == "key-in-success":
        return nest(200, {"connections": [], "debug": {"sentAuthorization": authorization}})
    if mode == "key-in-401":
        return nest(401, {"statusCode": 401, "message": f"Invalid API key {authorization}"})
    if mode == "too-large-declared":
        return Response(b"[" + b"0," * MAX_UPSTREAM_BODY_BYTES + b"0]", 200)
    if mode == "too-large-streamed":

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"connections":["'
            for _ in range(MAX_UPSTREAM_BODY_BYTES // 65536 + 2):
                yield b"x" * 65536
            yield b'"]}'

        return StreamingResponse(chunks(), 200, media_type="application/json")
    raise AssertionError(mode)


@pytest.fixture(scope="module")
def echoing_meetergo() -> Iterator[tuple[RunningServer, dict[str, str]]]:
    """A fake meetergo whose answer is chosen by ``state["mode"]`` and quotes the request."""
    state = {"mode": "safe-validation"}

    async def answer(request: Request) -> Response:
        return _echo_answer(state["mode"], request.headers.get("authorization", ""))

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "PATCH", "POST"])])
    with serve(app) as server:
        yield server, state


@pytest.fixture(scope="module")
def browser(echoing_meetergo: tuple[RunningServer, dict[str, str]]) -> Iterator[httpx.Client]:
    """The service on a real socket in front of the fake, and a signed-in browser's client."""
    server, _ = echoing_meetergo
    app = create_app(proxy_settings(server.url, upstream_retries=0))
    sessions: SessionManager = app.state.sessions
    with serve(app) as bff, httpx.Client(base_url=bff.url, trust_env=False) as client:
        login = client.post("/auth/session", json={"ticket": ticket()}, headers=GUARD)
        assert login.status_code == 200, login.text
        cookie = f"{sessions.codec.name}={cookie_value(login, sessions.codec.name)}"
        client.headers.update({**GUARD, "Cookie": cookie})
        yield client


def _ask(
    browser: httpx.Client, echoing_meetergo: tuple[RunningServer, dict[str, str]], mode: str
) -> httpx.Response:
    echoing_meetergo[1]["mode"] = mode
    if mode == "key-in-success" or mode.startswith("too-large"):
        return browser.get(f"{API}/connections")
    return browser.patch(f"{API}/connections/conn-1", json={"validateAvailability": True})


def _assert_no_key(response: httpx.Response) -> None:
    everything = response.text + json.dumps(dict(response.headers))
    assert KEY_SECRET_PART[-12:] not in everything, everything
    assert "ak_live" not in everything, everything


@pytest.mark.parametrize(
    "mode", ["whole-key-in-messages", "tail-of-key", "key-in-field-name", "key-in-401"]
)
def test_an_upstream_answer_quoting_the_api_key_reaches_the_browser_without_it(
    browser: httpx.Client, echoing_meetergo: tuple[RunningServer, dict[str, str]], mode: str
) -> None:
    response = _ask(browser, echoing_meetergo, mode)

    assert response.status_code in (422, 502), response.text
    assert response.headers["content-type"] == "application/problem+json"
    _assert_no_key(response)


def test_a_successful_answer_quoting_the_api_key_is_passed_on_with_the_key_redacted(
    browser: httpx.Client, echoing_meetergo: tuple[RunningServer, dict[str, str]]
) -> None:
    response = _ask(browser, echoing_meetergo, "key-in-success")

    assert response.status_code == 200
    _assert_no_key(response)
    assert response.json()["debug"]["sentAuthorization"] == "Bearer [redacted]"


def test_urls_markup_and_request_lines_are_withheld_but_the_field_is_named(
    browser: httpx.Client, echoing_meetergo: tuple[RunningServer, dict[str, str]]
) -> None:
    response = _ask(browser, echoing_meetergo, "url-and-markup")

    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"] == [
        {"location": "upstream", "message": WITHHELD, "field": "primaryCalendar"}
    ]


def test_meetergos_documented_validation_errors_pass_with_their_fields(
    browser: httpx.Client, echoing_meetergo: tuple[RunningServer, dict[str, str]]
) -> None:
    response = _ask(browser, echoing_meetergo, "safe-validation")

    assert response.json()["errors"] == [
        {"location": "upstream", "message": "Validation failed"},
        {
            "location": "upstream",
            "message": "primaryCalendar must be a string",
            "field": "primaryCalendar",
        },
        {
            "location": "upstream",
            "message": "must be one of: a, b",
            "field": "selectedCalendars[0]",
        },
    ]


@pytest.mark.parametrize("mode", ["too-large-declared", "too-large-streamed"])
def test_an_answer_larger_than_the_limit_is_a_bad_response(
    browser: httpx.Client, echoing_meetergo: tuple[RunningServer, dict[str, str]], mode: str
) -> None:
    response = _ask(browser, echoing_meetergo, mode)

    assert response.status_code == 502
    assert response.json()["code"] == "upstream_bad_response"
