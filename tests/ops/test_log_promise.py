"""The log promise, kept by every logger of the real process through a full, varied session.

``meetergo-bff serve`` runs as the container runs it (its own logging configuration, the default
level ``info``), in front of the sandbox on real sockets. A session exercises every route and
fault: logins (good, replayed, forged), the connect flow from start to callback (and the same
callback from a browser that did not start it), every calendar call, meetergo's 5xx, 429,
timeouts, resets and malformed answers, a refused encoded path, operator revocation, logout.
Then every line the process wrote is read: each one is JSON, and none holds a key, a ticket, a
cookie, a flow token, a connection id, a meetergo user id, the app's raw user id or a raw upstream
URL.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from sandbox.seed import ALICE_ID
from tests.proxy.support import (
    API,
    GUARD,
    SandboxAdmin,
    running_sandbox,
    ticket,
)
from tests.support.servers import RunningServer
from tests.support.service_process import ServiceProcess, running_service
from tests.support.settings import API_KEY, MANAGEMENT_TOKEN, SESSION_KEY, TICKET_SECRET

APP_USER = "app-user-alice"  # tests.proxy.support.ticket()'s sub
SESSION_COOKIE = "__Host-Http-mbff_session"


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[RunningServer]:
    with running_sandbox() as server:
        yield server


class Session:
    """A browser's cookies, kept by hand (the service is plain http here, its cookies Secure)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.seen: list[str] = []  # every cookie value, ticket and token met on the way

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {**GUARD, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.partition(";")[0]
            if value:
                self.cookies[name] = value
                self.seen.append(value)
        return response


def _run_session(service: ServiceProcess, sandbox: SandboxAdmin) -> list[str]:
    """Everything a user and an attacker do in one run; the secret values met on the way."""
    seen: list[str] = []
    with httpx.Client(base_url=service.url, trust_env=False, timeout=15) as client:
        browser, stranger = Session(client), Session(client)
        # Logins: good, replayed, forged.
        good = ticket()
        seen.append(good)
        assert browser.call("POST", "/auth/session", json={"ticket": good}).status_code == 200
        assert browser.call("POST", "/auth/session", json={"ticket": good}).status_code == 401
        forged = good[:-4] + "AAAA"
        seen.append(forged)
        stranger.call("POST", "/auth/session", json={"ticket": forged})
        assert browser.call("GET", "/auth/me").status_code == 200

        # The connect flow, popup mode, from start to callback.
        flow_id = secrets.token_urlsafe(24)
        started = browser.call(
            "GET", f"/connect/google?flowId={flow_id}", headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert started.status_code == 303, started.text
        auth_url = started.headers["location"]
        seen += [auth_url, dict(parse_qsl(urlsplit(auth_url).query))["state"]]
        landed = sandbox.consent(auth_url, email="alice@gmail.example")
        parts = urlsplit(landed)
        flow_token = parts.path.rsplit("/", 1)[1]
        connection = dict(parse_qsl(parts.query))["connectionId"]
        seen += [flow_token, connection, landed]
        callback = f"{parts.path}?{parts.query}"
        assert browser.call("GET", callback).status_code == 200
        browser.call("GET", f"/api/connect/flows/{flow_id}")
        stranger.call("GET", callback)  # the same link in another browser: a replay
        stranger.call("GET", f"{parts.path}%2Fx?{parts.query}")  # refused: invalid_path

        # Every calendar call.
        assert browser.call("GET", f"{API}/connections").status_code == 200
        calendars = browser.call("GET", f"{API}/connections/{connection}/calendars")
        assert calendars.status_code == 200
        seen += [c["id"] for c in calendars.json()["calendars"] if len(c["id"]) >= 8]
        browser.call(
            "PATCH", f"{API}/connections/{connection}", json={"validateAvailability": False}
        )
        browser.call(
            "PATCH", f"{API}/connections/{connection}", json={"primaryCalendar": "no-such"}
        )
        browser.call("POST", f"{API}/connections/{connection}/set-primary")
        auth = browser.call(
            "GET", f"{API}/auth/google/url", params={"redirectUrl": "https://bff.test/done"}
        )
        seen.append(auth.json()["authUrl"])
        browser.call("GET", f"{API}/connections/{connection}-nope/calendars")

        # meetergo failing in every way the sandbox can.
        # meetergo's 429 comes last: it pauses every call to meetergo for a while (app/quota).
        for fault in (
            {"error_rate": 1, "error_statuses": [500, 502, 503]},
            {"hang": True, "hang_seconds": 5},
            {"malformed_json": True},
            {"reset": True},
            {"rate_limited": True},
            {"rate_limited": True, "retry_after": 7},
        ):
            sandbox.faults(**fault, times=3)
            browser.call("GET", f"{API}/connections")
            browser.call("GET", f"{API}/connections/{connection}/calendars")
            browser.call("DELETE", f"{API}/connections/{connection}")
            sandbox.faults()
        browser.call("DELETE", f"{API}/connections/{connection}")

        # The operator, and the end.
        operator = {"Authorization": f"Bearer {MANAGEMENT_TOKEN}"}
        client.post("/manage/sessions/revoke", json={"appUserId": "org/42"}, headers=operator)
        client.post("/manage/users/nobody/revoke-sessions", headers={"Authorization": "Bearer x"})
        seen += browser.seen + stranger.seen
        second = ticket()
        seen.append(second)
        browser.call("POST", "/auth/session", json={"ticket": second})
        seen += browser.seen
        assert browser.call("POST", "/auth/logout").status_code == 204
    return seen


def test_no_line_of_a_full_session_holds_a_secret_token_id_or_upstream_url(
    tmp_path: Path, sandbox_server: RunningServer
) -> None:
    sandbox = SandboxAdmin(sandbox_server.url)
    sandbox.reset()
    try:
        with running_service(
            tmp_path,
            sandbox_server.url,
            BFF_UPSTREAM_DEADLINE="1.5",
            BFF_UPSTREAM_READ_TIMEOUT="1",
            # Every call of the session reaches meetergo and its faults: nothing answered from
            # the read cache, nothing refused by the budget.
            BFF_CACHE_TTL="0",
            BFF_BUDGET_PER_MINUTE="10000",
            BFF_BUDGET_PER_USER_PER_MINUTE="0",
            BFF_UPSTREAM_RATE_LIMIT_PAUSE="1",
        ) as service:
            seen = _run_session(service, sandbox)
            records = service.log_records()  # also: every line is JSON
            text = service.log_text()
    finally:
        sandbox.close()

    assert len(records) > 40, "the session must have produced a real amount of logging"
    assert any(r["logger"] == "app.access" and r["status"] == 429 for r in records)
    assert any(r["logger"] == "app.access" and r["status"] == 504 for r in records)
    # First line of defence: no third-party logger writes requests at the default level.
    assert not [r for r in records if r["logger"].startswith(("httpx", "httpcore"))]
    # Access lines name route templates (or "unmatched"), never a raw path.
    routes = {r["route"] for r in records if r["logger"] == "app.access"}
    assert f"{API}/connections/{{connectionId}}/calendars" in routes, routes
    assert "/connect/callback/{flow_token}" in routes, routes
    forbidden = {
        "the API key": API_KEY,
        "the API key's secret part": API_KEY.rsplit(":", 1)[1],
        "a session key": SESSION_KEY,
        "the ticket secret": TICKET_SECRET,
        "the management token": MANAGEMENT_TOKEN,
        "the meetergo user id": ALICE_ID,
        "the app's raw user id": APP_USER,
        "a raw upstream URL": f"{sandbox_server.url}/v4",
        "an upstream query": "redirectUrl=",
        "the callback path with its token": "/connect/callback/ey",
    }
    forbidden.update({f"a value met in the session ({len(v)} chars)": v for v in seen})
    for what, value in forbidden.items():
        assert value not in text, f"{what} is in the log"
    assert not re.search(r"__Host-mbff_\w+=[^\[]", text), "a cookie is in the log"
    assert json.dumps(records)  # parsed and re-encodable: one JSON object per line
