"""The connect flow's hijack defence, over real sockets to the sandbox.

A callback that arrives without the flow's browser (no flow cookie, another session) is treated as
a hijack: it reports ``flow_mismatch`` and removes the connection the flow created. These tests
pin what it may remove (only a connection the flow created), who decides a flow (whoever comes
first, once, across replicas), and that a removal meetergo refuses for a while is retried until
it happens.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.connect import undo as undo_module
from app.connect.undo import HijackUndo
from app.main import create_app
from app.state.redis import RedisState
from tests.proxy.conftest import MakeBff
from tests.proxy.support import (
    BASE_URL,
    Bff,
    SandboxAdmin,
    cookie_value,
    proxy_settings,
    upstream_path,
)
from tests.support.redis import key_space, redis_url_or_skip

CALLBACK = "/connect/callback/"


def start_flow(bff: Bff, sandbox: SandboxAdmin) -> tuple[str, str]:
    """Alice starts a flow through the API: (the consent URL, the callback path with its token).

    The flow cookie goes into ``bff.extra_cookies``: Alice's browser now holds it.
    """
    response = bff.operation("getAuthUrl")
    assert response.status_code == 200, response.text
    flow_cookie = bff.app.state.flows.cookie_name
    value = cookie_value(response, flow_cookie)
    assert value is not None
    bff.extra_cookies[flow_cookie] = value
    asked = sandbox.requests(f"{upstream_path('getAuthUrl')}")[-1]
    callback = dict(asked["query"])["redirectUrl"]
    bff.last_flow_id = response.headers["X-Flow-ID"]  # type: ignore[attr-defined]
    return response.json()["authUrl"], urlsplit(callback).path


def consent(sandbox: SandboxAdmin, auth_url: str, email: str) -> tuple[str, str]:
    """Someone consents on the flow's screen: (where meetergo sends the browser, the new id)."""
    location = sandbox.consent(auth_url, email=email)
    parts = urlsplit(location)
    assert parts.path.startswith(CALLBACK), location
    connection_id = dict(part.split("=", 1) for part in parts.query.split("&") if "=" in part)[
        "connectionId"
    ]
    return f"{parts.path}?{parts.query}", connection_id


def foreign_get(client: TestClient, target: str) -> dict[str, Any]:
    """``target`` opened in a browser with no cookie of this service: the page's flow result."""
    client.cookies.clear()
    response = client.get(target, headers={"Cookie": ""})
    return page_result(response.text)


def owner_get(bff: Bff, target: str) -> dict[str, Any]:
    response = bff.call("GET", target)
    assert response.status_code == 200, response.text
    return page_result(response.text)


def page_result(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="flow-result">(.*?)</script>', html)
    assert found is not None, html
    message: dict[str, Any] = json.loads(found.group(1))["message"]
    return message


def alice_connections(sandbox: SandboxAdmin) -> list[str]:
    response = sandbox.direct("GET", upstream_path("listConnections"))
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["connections"]]


def deletes(sandbox: SandboxAdmin) -> list[str]:
    return [e["path"] for e in sandbox.requests(with_snapshot=True) if e["method"] == "DELETE"]


def metric(bff: Bff, outcome: str) -> float:
    value = bff.app.state.metrics.registry.get_sample_value(
        "bff_hijack_removals_total", {"outcome": outcome}
    )
    return float(value or 0.0)


# -- what may be removed ---------------------------------------------------------------------------


def test_a_flow_token_alone_cannot_remove_a_connection_the_user_already_had(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    existing = sandbox.connect("alice@gmail.example")
    _, callback = start_flow(bff, sandbox)
    sandbox.clear_log()
    before = metric(bff, "kept_preexisting")

    # The abandoned flow's token plus the id of a connection Alice had: no cookie at all.
    forged = f"{callback}?success=true&provider=google&connectionId={existing}"
    result = foreign_get(bff.client, forged)

    assert result["success"] is False
    assert result["code"] == "flow_mismatch"
    assert alice_connections(sandbox) == [existing]
    assert deletes(sandbox) == []
    assert metric(bff, "kept_preexisting") == before + 1


def test_a_connection_the_hijacked_flow_created_is_removed(bff: Bff, sandbox: SandboxAdmin) -> None:
    existing = sandbox.connect("alice@gmail.example")
    auth_url, _ = start_flow(bff, sandbox)
    landing, created = consent(sandbox, auth_url, "victim@gmail.example")
    sandbox.clear_log()
    before = metric(bff, "removed")

    result = foreign_get(bff.client, landing)

    assert (result["success"], result["code"]) == (False, "flow_mismatch")
    assert alice_connections(sandbox) == [existing]  # the victim's calendar is detached again
    assert deletes(sandbox) == [upstream_path("deleteConnection", created)]
    assert metric(bff, "removed") == before + 1


def test_a_connection_confirmed_by_another_flow_of_the_owner_is_never_removed(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    _, abandoned = start_flow(bff, sandbox)  # Alice gives up on this one (its token leaks)...
    auth_url, _ = start_flow(bff, sandbox)  # ...and connects through a second flow
    landing, created = consent(sandbox, auth_url, "alice@gmail.example")
    assert owner_get(bff, landing)["success"] is True
    sandbox.clear_log()
    before = metric(bff, "kept_owned")

    forged = f"{abandoned}?success=true&provider=google&connectionId={created}"
    result = foreign_get(bff.client, forged)

    assert result["code"] == "flow_mismatch"
    assert alice_connections(sandbox) == [created]
    assert deletes(sandbox) == []
    assert metric(bff, "kept_owned") == before + 1


# -- who decides a flow ----------------------------------------------------------------------------


def test_after_a_foreign_callback_decided_the_flow_the_owner_is_not_told_success(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    auth_url, _ = start_flow(bff, sandbox)
    landing, _ = consent(sandbox, auth_url, "victim@gmail.example")

    assert foreign_get(bff.client, landing)["code"] == "flow_mismatch"
    owner = owner_get(bff, landing)

    assert (owner["success"], owner["code"]) == (False, "flow_mismatch")
    assert alice_connections(sandbox) == []


def test_after_the_owner_decided_the_flow_a_foreign_copy_removes_nothing(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    auth_url, _ = start_flow(bff, sandbox)
    landing, created = consent(sandbox, auth_url, "alice@gmail.example")

    assert owner_get(bff, landing)["success"] is True
    assert foreign_get(bff.client, landing)["code"] == "flow_mismatch"

    assert alice_connections(sandbox) == [created]
    assert deletes(sandbox) == []


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    url = redis_url_or_skip()
    with key_space(url) as prefix:
        yield url, prefix


@pytest.mark.redis
def test_owner_and_foreign_callbacks_racing_on_two_replicas_never_leave_success_for_a_removed_connection(  # noqa: E501
    sandbox: SandboxAdmin, redis_prefix: tuple[str, str]
) -> None:
    url, prefix = redis_prefix
    settings = proxy_settings(sandbox.url, redis_url=url)
    with contextlib.ExitStack() as stack:
        apps = [
            create_app(settings, shared_state=RedisState.from_url(url, prefix=prefix))
            for _ in range(2)
        ]
        clients = [
            stack.enter_context(TestClient(app, base_url=BASE_URL, raise_server_exceptions=False))
            for app in apps
        ]
        owner = Bff(clients[0])
        owner.login()
        stranger = clients[1]
        pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(2))
        outcomes = []
        for _ in range(8):
            sandbox.reset()
            owner.extra_cookies.clear()
            auth_url, _ = start_flow(owner, sandbox)
            landing, created = consent(sandbox, auth_url, "victim@gmail.example")
            told = pool.submit(owner_get, owner, landing)
            foreign = pool.submit(foreign_get, stranger, landing)
            assert foreign.result()["code"] == "flow_mismatch"
            success = told.result()["success"]
            kept = alice_connections(sandbox) == [created]
            # The one forbidden combination: the owner told success for a removed connection.
            assert kept or not success, (success, kept)
            # And exactly one of them decided: kept with success, or removed with mismatch.
            assert success == kept, (success, kept)
            outcomes.append(success)
    assert len(outcomes) == 8


# -- a removal meetergo refuses for a while --------------------------------------------------------


def test_a_removal_that_fails_once_is_retried_at_once(bff: Bff, sandbox: SandboxAdmin) -> None:
    auth_url, _ = start_flow(bff, sandbox)
    landing, created = consent(sandbox, auth_url, "victim@gmail.example")
    sandbox.faults(error_rate=1, error_statuses=[503], times=2, paths=[f"/connections/{created}"])
    before = metric(bff, "removed")

    assert foreign_get(bff.client, landing)["code"] == "flow_mismatch"

    assert alice_connections(sandbox) == []
    assert deletes(sandbox) == [upstream_path("deleteConnection", created)] * 3
    assert metric(bff, "removed") == before + 1


def test_a_removal_that_keeps_failing_is_queued_logged_and_done_later(
    make_bff: MakeBff,
    sandbox: SandboxAdmin,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(undo_module, "FIRST_LATER_DELAY", 0.0)  # due at once, not in 15 s
    monkeypatch.setattr(undo_module, "WORKER_INTERVAL", 3600.0)  # the test runs the worker's step
    bff = make_bff()
    auth_url, _ = start_flow(bff, sandbox)
    flow_id = bff.last_flow_id  # type: ignore[attr-defined]
    landing, created = consent(sandbox, auth_url, "victim@gmail.example")
    sandbox.faults(error_rate=1, error_statuses=[503], paths=[f"/connections/{created}"])

    with caplog.at_level(logging.ERROR, logger="app.connect.undo"):
        assert foreign_get(bff.client, landing)["code"] == "flow_mismatch"

    assert alice_connections(sandbox) == [created]  # meetergo still refuses the DELETE
    assert metric(bff, "deferred") == 1
    (logged,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert flow_id in logged.getMessage()
    assert created not in logged.getMessage()  # the log names the flow, not the connection

    assert sandbox.client.delete("/_sandbox/faults").status_code in (200, 204)  # meetergo recovers
    undo: HijackUndo = bff.app.state.hijack_undo
    portal = bff.client.portal
    assert portal is not None
    portal.call(undo.run_due)  # what the background worker does every few seconds

    assert alice_connections(sandbox) == []
    assert metric(bff, "removed_later") == 1
    assert portal.call(undo.run_due) == 0  # nothing left in the queue


def test_a_flow_whose_connection_list_cannot_be_read_does_not_start(
    bff: Bff, sandbox: SandboxAdmin
) -> None:
    """Without the list there is nothing to tell a created connection from an old one by."""
    sandbox.faults(error_rate=1, error_statuses=[503], paths=[upstream_path("listConnections")])

    response = bff.operation("getAuthUrl")

    assert response.status_code == 502, response.text
    assert response.json()["code"] == "upstream_unavailable"
    assert "X-Flow-ID" not in response.headers
    assert sandbox.requests(upstream_path("getAuthUrl")) == []  # meetergo never started it
