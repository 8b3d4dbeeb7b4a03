"""The connect callback and the budget: confirmed from meetergo itself, never from the cache, and
never turned from a success into a failure because the budget is spent."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from sandbox.seed import ALICE_ID
from tests.proxy.support import API, GUARD, SandboxAdmin
from tests.quota.support import Replica, replicas

RETURN_TO = "https://bff.test/settings"


def _connect(replica: Replica, sandbox: SandboxAdmin, email: str) -> dict[str, str]:
    """A redirect-mode connect flow through the service and the sandbox's consent screen."""
    cookies = {replica.cookie_name: replica.cookies["alice"]}
    with httpx.Client(base_url=replica.server.url, timeout=10, trust_env=False) as browser:
        start = browser.get(
            f"/connect/google?mode=redirect&returnTo={quote(RETURN_TO, safe='')}",
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        )
        assert start.status_code == 303, start.text
        for header in start.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        landed = urlsplit(sandbox.consent(start.headers["location"], email=email))
        callback = browser.get(
            f"{landed.path}?{landed.query}",
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        )
    assert callback.status_code == 303, callback.text
    location = callback.headers["location"]
    assert location.startswith(RETURN_TO), location
    return dict(parse_qsl(urlsplit(location).query))


def _list(replica: Replica) -> httpx.Response:
    return httpx.get(
        f"{replica.server.url}{API}/connections", headers=replica.headers("alice"), timeout=10
    )


def test_the_callback_confirms_from_meetergo_not_from_the_cache(sandbox: SandboxAdmin) -> None:
    with replicas(1, sandbox.url, None) as (replica,):
        replica.login("alice", ALICE_ID)
        before = _list(replica)
        assert before.json()["connections"] == []  # cached now, fresh for 30 s
        result = _connect(replica, sandbox, "new@example.com")
        assert result.get("success") == "true", result
        after = _list(replica)
    listed = [c["id"] for c in after.json()["connections"]]
    assert listed == [result["connectionId"]]
    # The confirmation's own read refreshed the cache: the SPA's next read costs nothing.
    assert after.headers["cache-status"].startswith("meetergo-bff; hit")


def test_a_spent_budget_does_not_turn_a_connect_into_a_failure(sandbox: SandboxAdmin) -> None:
    tight: dict[str, Any] = {
        "budget_per_minute": 4,
        "budget_write_reserve": 1,
        "budget_refresh_reserve": 0,
        "budget_per_user_per_minute": 0,
        "budget_max_wait": 0,
    }
    with replicas(1, sandbox.url, None, **tight) as (replica,):
        replica.login("alice", ALICE_ID)
        spend = [
            ("GET", "/connections/c-1/calendars"),  # with the flow's two calls below: 4 of 4
            ("DELETE", "/connections/c-2"),
        ]
        for method, path in spend[:1]:
            answer = httpx.request(
                method, f"{replica.server.url}{API}{path}", headers=replica.headers("alice")
            )
            assert answer.status_code == 404, answer.text

        # The flow's start spends two calls (the list it snapshots, the consent URL); one write
        # more and the window is full when meetergo sends the user back.
        original_consent = sandbox.consent

        def consent_then_spend(auth_url: str, *, email: str) -> str:
            landed = original_consent(auth_url, email=email)
            method, path = spend[1]
            headers = {**replica.headers("alice"), **GUARD}
            answer = httpx.request(method, f"{replica.server.url}{API}{path}", headers=headers)
            assert answer.status_code == 404, answer.text
            return landed

        sandbox.consent = consent_then_spend  # type: ignore[method-assign]
        try:
            result = _connect(replica, sandbox, "late@example.com")
        finally:
            sandbox.consent = original_consent  # type: ignore[method-assign]
    assert result.get("success") == "true", result
    sent = sandbox.requests(with_snapshot=True)
    lists = [e for e in sent if e["method"] == "GET" and e["path"].endswith("/connections")]
    assert len(lists) == 1  # the flow's snapshot; the confirmation found no budget and went on
    assert len(sent) == 4  # the budget: never more than 4 in the window
