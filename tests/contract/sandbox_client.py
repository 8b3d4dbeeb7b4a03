"""Talking to a running sandbox as meetergo's customers talk to meetergo.

The seed values are the ones published in docs/sandbox.md: the contract tests read them from the
documentation, not from the sandbox's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import httpx

API = "/v4/calendar-connections"

ADMIN_KEY = "ak_live:7f3e1a52-0000-4000-8000-000000000001:sandbox-admin-secret-0001"
MEMBER_KEY = "ak_live:7f3e1a52-0000-4000-8000-000000000002:sandbox-member-secret-0002"
EXPIRED_KEY = "ak_live:7f3e1a52-0000-4000-8000-000000000003:sandbox-expired-secret-0003"
ALICE_TOKEN = "rgo-sandbox-alice-personal-token-0001"

ALICE = "11111111-1111-4111-8111-111111111111"
BOB = "22222222-2222-4222-8222-222222222222"
CAROL = "33333333-3333-4333-8333-333333333333"
MALLORY = "99999999-9999-4999-8999-999999999999"  # of another company

APP_CALLBACK = "http://app.example.test/calendar/callback"


class Call(NamedTuple):
    """One operation of the contract, ready to send with a connection id filled in."""

    operation_id: str
    method: str
    path: str
    json: Any = None

    def url(self, connection_id: str) -> str:
        return API + self.path.format(connectionId=connection_id)


CALLS = (
    Call("getCalendarAuthUrl", "GET", "/auth/google/url"),
    Call("listCalendarConnections", "GET", "/connections"),
    Call("listConnectionCalendars", "GET", "/connections/{connectionId}/calendars"),
    Call(
        "updateCalendarConnection",
        "PATCH",
        "/connections/{connectionId}",
        {"validateAvailability": False},
    ),
    Call("deleteCalendarConnection", "DELETE", "/connections/{connectionId}"),
    Call("setPrimaryCalendarConnection", "POST", "/connections/{connectionId}/set-primary"),
)
CONNECTION_CALLS = tuple(call for call in CALLS if "{connectionId}" in call.path)


def auth(key: str | None, user: str | None = None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if user is not None:
        headers["x-meetergo-api-user-id"] = user
    return headers


class ConsentResult(NamedTuple):
    """Where meetergo finally sent the browser, and the raw and parsed query it carried."""

    location: str
    raw_query: str
    params: dict[str, str]


class Sandbox:
    """A client of one running sandbox: API calls, the browser's consent round trip, faults."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def send(
        self,
        call: Call,
        *,
        connection_id: str = "00000000-0000-4000-8000-000000000000",
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        return self.client.request(
            call.method,
            call.url(connection_id),
            headers=dict(headers),
            params=params,
            json=call.json,
        )

    def auth_url(
        self,
        user: str = ALICE,
        provider: str = "google",
        *,
        redirect_url: str | None = APP_CALLBACK,
        key: str = ADMIN_KEY,
    ) -> str:
        params = {} if redirect_url is None else {"redirectUrl": redirect_url}
        response = self.client.get(
            f"{API}/auth/{provider}/url", headers=auth(key, user), params=params
        )
        assert response.status_code == 200, response.text
        auth_url: str = response.json()["authUrl"]
        return auth_url

    def consent(
        self,
        auth_url: str,
        *,
        email: str,
        decision: str = "allow",
        grant_calendar: bool = True,
    ) -> ConsentResult:
        """Answer the consent screen as a browser would and follow the hops back to the app."""
        page = self.client.get(auth_url)
        assert page.status_code == 200, page.text
        query = dict(parse_qsl(urlsplit(auth_url).query))
        form = {"state": query["state"], "email": email, "decision": decision}
        if grant_calendar:
            form["scope"] = "calendar"
        answered = self.client.post(urlsplit(auth_url).path, data=form)
        assert answered.status_code == 303, answered.text
        callback = self.client.get(answered.headers["location"])
        assert callback.status_code == 302, callback.text
        location = callback.headers["location"]
        raw_query = urlsplit(location).query
        return ConsentResult(location, raw_query, dict(parse_qsl(raw_query)))

    def connect(
        self, user: str = ALICE, provider: str = "google", email: str = "alice@gmail.example"
    ) -> str:
        """Create a connection through the whole consent flow; its id."""
        result = self.consent(self.auth_url(user, provider), email=email)
        assert result.params.get("success") == "true", result.location
        return result.params["connectionId"]

    def calendars(self, connection_id: str, user: str = ALICE) -> list[dict[str, Any]]:
        response = self.client.get(
            f"{API}/connections/{connection_id}/calendars", headers=auth(ADMIN_KEY, user)
        )
        assert response.status_code == 200, response.text
        calendars: list[dict[str, Any]] = response.json()["calendars"]
        return calendars

    def set_faults(self, **faults: Any) -> None:
        response = self.client.put("/_sandbox/faults", json=faults)
        assert response.status_code == 200, response.text

    def reset(self) -> None:
        response = self.client.post("/_sandbox/reset")
        assert response.status_code == 204, response.text
