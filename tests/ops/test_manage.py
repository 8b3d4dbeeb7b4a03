"""Operator revocation over real sockets: every user id that can sign in can be revoked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.session.sessions import SessionManager
from app.session.tickets import mint_ticket
from tests.support.servers import serve
from tests.support.settings import MANAGEMENT_TOKEN, TICKET_SECRET, make_settings

GUARD = {"X-CSRF": "1", "Origin": "https://bff.test"}
OPERATOR = {"Authorization": f"Bearer {MANAGEMENT_TOKEN}"}

# Ids a login ticket's ``sub`` may carry (printable, 1 to 256 characters).
AWKWARD_IDS = {
    "slash": "org/42",
    "leading-slash": "/42",
    "dot-dot-segments": "../../admin",
    "backslash": "org\\42",
    "percent-encoded-look": "org%2F42",
    "question-and-hash": "a?b#c",
    "spaces-and-unicode": "Zoë Müller / Support",
    "quote-and-braces": '{"x": 1}',
    "longest": "é" * 256,
    "single": "x",
}


class Service:
    def __init__(self, client: httpx.Client, cookie_name: str) -> None:
        self.client = client
        self.cookie_name = cookie_name

    def login(self, sub: str) -> str:
        ticket = mint_ticket(
            key=TICKET_SECRET,
            algorithm="HS256",
            audience="meetergo-calendar-bff",
            sub=sub,
            meetergo_user_id=None,
        )
        response = self.client.post("/auth/session", json={"ticket": ticket}, headers=GUARD)
        assert response.status_code == 200, response.text
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == self.cookie_name:
                return rest.partition(";")[0]
        raise AssertionError("no session cookie")

    def me(self, cookie: str) -> httpx.Response:
        return self.client.get(
            "/auth/me", headers={**GUARD, "Cookie": f"{self.cookie_name}={cookie}"}
        )

    def post(self, target: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(target, **kwargs)


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    app = create_app(make_settings(management_token=MANAGEMENT_TOKEN))
    sessions: SessionManager = app.state.sessions
    with serve(app) as server, httpx.Client(base_url=server.url, trust_env=False) as client:
        yield Service(client, sessions.codec.name)


@pytest.mark.parametrize("user", list(AWKWARD_IDS.values()), ids=list(AWKWARD_IDS))
def test_every_id_that_can_sign_in_is_revoked_by_the_json_form(service: Service, user: str) -> None:
    cookie = service.login(user)
    bystander = service.login("bystander")
    assert service.me(cookie).status_code == 200

    response = service.post("/manage/sessions/revoke", json={"appUserId": user}, headers=OPERATOR)

    assert response.status_code == 200, response.text
    assert "revokedBefore" in response.json()
    assert service.me(cookie).json()["code"] == "session_revoked"
    assert service.me(bystander).status_code == 200


def test_the_path_form_still_revokes_a_simple_id(service: Service) -> None:
    cookie = service.login("user-17")

    response = service.post("/manage/users/user-17/revoke-sessions", headers=OPERATOR)

    assert response.status_code == 200, response.text
    assert service.me(cookie).json()["code"] == "session_revoked"


def test_the_path_form_with_an_encoded_slash_is_refused_and_says_so(service: Service) -> None:
    # Encoded separators never reach routing; the refusal is explicit, not a silent 404.
    cookie = service.login("org/42")

    response = service.post("/manage/users/org%2F42/revoke-sessions", headers=OPERATOR)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_path"
    assert service.me(cookie).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"appUserId": ""}, {"appUserId": "a" * 257}, {"appUserId": "a\nb"}, {"appUserId": 42}],
    ids=["missing", "empty", "too-long", "control-character", "not-a-string"],
)
def test_an_id_no_ticket_could_carry_is_a_validation_error(
    service: Service, body: dict[str, Any]
) -> None:
    response = service.post("/manage/sessions/revoke", json=body, headers=OPERATOR)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_the_json_form_checks_the_token_before_reading_the_body(service: Service) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = service.post("/manage/sessions/revoke", json={"wrong": 1}, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"


def test_the_json_form_refuses_other_media_types_and_large_bodies(service: Service) -> None:
    as_form = service.post(
        "/manage/sessions/revoke",
        content=b"appUserId=x",
        headers={**OPERATOR, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert as_form.json()["code"] == "unsupported_media_type"
    huge = service.post(
        "/manage/sessions/revoke",
        content=b'{"appUserId": "' + b"a" * 20000 + b'"}',
        headers={**OPERATOR, "Content-Type": "application/json"},
    )
    assert huge.json()["code"] == "payload_too_large"
