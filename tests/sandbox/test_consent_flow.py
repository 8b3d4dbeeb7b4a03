"""The browser's round trip: consent screen -> provider callback -> redirectUrl with the result."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.seed import ADMIN_KEY, ALICE_ID, BOB_ID
from tests.sandbox.support import CONNECTIONS, Sandbox, StartSandbox

CALLBACK = "/calendar/callback"


def landed_query(response: httpx.Response) -> str:
    """The raw query string the app behind redirectUrl was called with."""
    assert response.status_code == 200
    assert response.url.path == CALLBACK
    return response.url.query.decode()


def connection_ids(sandbox: Sandbox, user: str = ALICE_ID) -> list[str]:
    body = sandbox.api(user=user).get(CONNECTIONS).json()
    return [c["id"] for c in body["connections"]]


@pytest.mark.parametrize("provider", ["google", "outlook"])
def test_allowing_creates_a_connection_and_reports_success(sandbox: Sandbox, provider: str) -> None:
    auth_url, state = sandbox.auth_url(sandbox.api(), provider)
    landed = sandbox.answer_consent(auth_url)

    hops = [(r.status_code, r.headers["location"]) for r in landed.history]
    assert [status for status, _ in hops] == [303, 302]
    callback = urlsplit(hops[0][1])
    assert callback.path == f"/oauth/{provider}/callback"
    assert parse_qs(callback.query)["state"] == [state]
    assert "code" in parse_qs(callback.query)

    ids = connection_ids(sandbox)
    assert landed_query(landed) == f"success=true&provider={provider}&connectionId={ids[0]}"


def test_connecting_an_account_twice_reports_connection_already_exists_encoded_twice(
    sandbox: Sandbox,
) -> None:
    api = sandbox.api()
    sandbox.connect(api, email="alice@gmail.example")
    auth_url, _ = sandbox.auth_url(api)
    landed = sandbox.answer_consent(auth_url, email="ALICE@gmail.example")

    query = landed_query(landed)
    assert query == "error=true&provider=google&message=Connection%2520already%2520exists"
    assert len(connection_ids(sandbox)) == 1


def test_the_same_account_may_be_connected_by_another_user_or_with_another_provider(
    sandbox: Sandbox,
) -> None:
    sandbox.connect(sandbox.api(user=ALICE_ID), "google", email="shared@example.com")
    sandbox.connect(sandbox.api(user=ALICE_ID), "outlook", email="shared@example.com")
    sandbox.connect(sandbox.api(user=BOB_ID), "google", email="shared@example.com")
    assert len(connection_ids(sandbox, ALICE_ID)) == 2
    assert len(connection_ids(sandbox, BOB_ID)) == 1


def test_denying_reports_access_denied_and_creates_nothing(sandbox: Sandbox) -> None:
    auth_url, state = sandbox.auth_url(sandbox.api())
    landed = sandbox.answer_consent(auth_url, decision="deny", email="")
    assert parse_qs(urlsplit(landed.history[0].headers["location"]).query) == {
        "error": ["access_denied"],
        "state": [state],
    }
    assert landed_query(landed) == "error=true&provider=google&message=access_denied"
    assert connection_ids(sandbox) == []


def test_withholding_the_calendar_scope_reports_invalid_scope(sandbox: Sandbox) -> None:
    auth_url, _ = sandbox.auth_url(sandbox.api(), "outlook")
    landed = sandbox.answer_consent(auth_url, calendar_scope=False)
    assert landed_query(landed) == "error=true&provider=outlook&message=invalid_scope"
    assert connection_ids(sandbox) == []


@pytest.mark.parametrize("how", ["settings", "admin"])
@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_the_consent_server_error_fault_reports_server_error(
    start_sandbox: StartSandbox, sandbox: Sandbox, how: str, decision: str
) -> None:
    if how == "settings":
        target = start_sandbox(faults={"consent_server_error": True})
    else:
        target = sandbox
        put = target.client().put("/_sandbox/faults", json={"consent_server_error": True})
        assert put.status_code == 200
    auth_url, _ = target.auth_url(target.api())
    landed = target.answer_consent(auth_url, decision=decision)
    assert landed_query(landed) == "error=true&provider=google&message=server_error"
    assert connection_ids(target) == []


def test_legacy_result_parameters(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(result_params="legacy")
    api = sandbox.api()
    auth_url, _ = sandbox.auth_url(api)
    success = landed_query(sandbox.answer_consent(auth_url))
    connection_id = connection_ids(sandbox)[0]
    assert success == f"provider=google&connection_id={connection_id}&success=true"

    auth_url, _ = sandbox.auth_url(api)
    duplicate = landed_query(sandbox.answer_consent(auth_url))
    assert duplicate == "provider=google&error=Connection%2520already%2520exists&success=false"

    auth_url, _ = sandbox.auth_url(api)
    denied = landed_query(sandbox.answer_consent(auth_url, decision="deny"))
    assert denied == "provider=google&error=access_denied&success=false"


@pytest.mark.parametrize(
    ("redirect_query", "expected_prefix"),
    [("keep", "flow=abc&lang=de&success=true"), ("drop", "success=true")],
)
def test_a_query_already_on_redirect_url_is_kept_or_dropped(
    start_sandbox: StartSandbox, redirect_query: str, expected_prefix: str
) -> None:
    sandbox = start_sandbox(redirect_query=redirect_query)
    redirect_url = f"{sandbox.landing_url}{CALLBACK}?flow=abc&lang=de"
    auth_url, _ = sandbox.auth_url(sandbox.api(), redirectUrl=redirect_url)
    query = landed_query(sandbox.answer_consent(auth_url))
    assert query.startswith(expected_prefix)
    assert query.endswith(f"&provider=google&connectionId={connection_ids(sandbox)[0]}")


def test_keep_is_the_default_for_a_query_on_redirect_url(sandbox: Sandbox) -> None:
    redirect_url = f"{sandbox.landing_url}{CALLBACK}?flow=abc"
    auth_url, _ = sandbox.auth_url(sandbox.api(), redirectUrl=redirect_url)
    assert landed_query(sandbox.answer_consent(auth_url)).startswith("flow=abc&success=true&")


def test_a_fragment_on_redirect_url_stays_after_the_result(sandbox: Sandbox) -> None:
    redirect_url = f"{sandbox.landing_url}{CALLBACK}#done"
    auth_url, _ = sandbox.auth_url(sandbox.api(), redirectUrl=redirect_url)
    landed = sandbox.answer_consent(auth_url)
    location = landed.history[-1].headers["location"]
    assert location.startswith(f"{sandbox.landing_url}{CALLBACK}?success=true&")
    assert location.endswith("#done")


def test_without_redirect_url_the_sandbox_shows_its_own_result_page(sandbox: Sandbox) -> None:
    auth_url, _ = sandbox.auth_url(sandbox.api(), redirectUrl="")
    landed = sandbox.answer_consent(auth_url)
    assert landed.status_code == 200
    assert landed.url.path == "/oauth/result"
    assert landed.headers["content-type"].startswith("text/html")
    assert "Calendar connected" in landed.text
    assert connection_ids(sandbox)[0] in landed.text


def test_the_result_page_decodes_the_twice_encoded_message(sandbox: Sandbox) -> None:
    api = sandbox.api()
    sandbox.connect(api)
    auth_url, _ = sandbox.auth_url(api, redirectUrl="")
    landed = sandbox.answer_consent(auth_url)
    assert "Calendar not connected" in landed.text
    assert "Connection already exists" in landed.text


def test_a_flow_for_another_user_through_the_admin_key_lands_with_that_user(
    sandbox: Sandbox,
) -> None:
    admin = sandbox.api(key=ADMIN_KEY, user=ALICE_ID)
    auth_url, _ = sandbox.auth_url(admin, userId=BOB_ID)
    landed = sandbox.answer_consent(auth_url, email="bob@gmail.example")
    assert parse_qs(landed_query(landed))["success"] == ["true"]
    assert connection_ids(sandbox, ALICE_ID) == []
    assert len(connection_ids(sandbox, BOB_ID)) == 1


# --- states that do not open a flow ------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["/consent/google?state=made-up", "/consent/google", "/consent/google?state="]
)
def test_an_unknown_state_shows_a_400_page(sandbox: Sandbox, target: str) -> None:
    response = sandbox.client().get(target)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "This sign-in link is not valid" in response.text


def test_a_state_cannot_be_used_with_another_provider(sandbox: Sandbox) -> None:
    _, state = sandbox.auth_url(sandbox.api(), "google")
    response = sandbox.client().get("/consent/outlook", params={"state": state})
    assert response.status_code == 400


def test_a_state_answers_only_once(sandbox: Sandbox) -> None:
    auth_url, state = sandbox.auth_url(sandbox.api())
    landed = sandbox.answer_consent(auth_url)
    callback = landed.history[0].headers["location"]
    browser = sandbox.client()
    assert browser.get(auth_url).status_code == 400
    assert browser.get(callback).status_code == 400
    again = browser.post(
        "/consent/google", data={"state": state, "email": "a@b.example", "decision": "allow"}
    )
    assert again.status_code == 400
    assert len(connection_ids(sandbox)) == 1


def test_answering_a_consent_after_the_state_expired_shows_a_400_page(sandbox: Sandbox) -> None:
    _, state = sandbox.auth_url(sandbox.api())
    sandbox.clock.advance(600)
    response = sandbox.client().post(
        "/consent/google", data={"state": state, "email": "a@b.example", "decision": "allow"}
    )
    assert response.status_code == 400
    assert "This sign-in link is not valid" in response.text


def test_the_callback_with_a_made_up_code_reports_server_error(sandbox: Sandbox) -> None:
    _, state = sandbox.auth_url(sandbox.api())
    response = sandbox.client().get(
        "/oauth/google/callback", params={"code": "forged", "state": state}
    )
    assert response.status_code == 302
    assert response.headers["location"].endswith("error=true&provider=google&message=server_error")
    assert connection_ids(sandbox) == []


def test_an_unexpected_provider_error_reaches_the_app_as_server_error(sandbox: Sandbox) -> None:
    _, state = sandbox.auth_url(sandbox.api())
    response = sandbox.client().get(
        "/oauth/google/callback", params={"error": "<b>weird</b>", "state": state}
    )
    assert response.headers["location"].endswith("&message=server_error")


@pytest.mark.parametrize("path", ["/consent/icloud", "/oauth/icloud/callback"])
def test_providers_without_a_consent_screen_have_no_pages(sandbox: Sandbox, path: str) -> None:
    assert sandbox.client().get(path, params={"state": "x"}).status_code == 404


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b", "two words@example.com"])
def test_allowing_without_a_valid_email_shows_the_form_again(sandbox: Sandbox, email: str) -> None:
    auth_url, state = sandbox.auth_url(sandbox.api())
    browser = sandbox.client()
    response = browser.post(
        "/consent/google",
        data={"state": state, "email": email, "scope": "calendar", "decision": "allow"},
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert f'name="state" value="{state}"' in response.text
    assert connection_ids(sandbox) == []
    assert browser.get(auth_url).status_code == 200  # the flow is still open


def test_a_revoked_connection_is_listed_as_not_connected_until_the_account_is_connected_again(
    sandbox: Sandbox,
) -> None:
    api = sandbox.api()
    connection = sandbox.connect(api, email="alice@gmail.example")
    other = sandbox.connect(api, "outlook", email="alice@outlook.example")
    with sandbox.client() as admin:
        revoked = admin.post(f"/_sandbox/connections/{connection['id']}/revoke")
        assert admin.post("/_sandbox/connections/no-such-id/revoke").status_code == 404
    assert revoked.status_code == 200
    assert revoked.json()["isConnected"] is False
    listed = {c["id"]: c for c in api.get(CONNECTIONS).json()["connections"]}
    assert listed[connection["id"]]["isConnected"] is False
    assert listed[other["id"]]["isConnected"] is True

    # Assumption 9: the same account connected again restores that connection, under its id.
    auth_url, _ = sandbox.auth_url(api)
    landed = sandbox.answer_consent(auth_url, email="Alice@gmail.example")
    assert landed_query(landed) == f"success=true&provider=google&connectionId={connection['id']}"
    listed = {c["id"]: c for c in api.get(CONNECTIONS).json()["connections"]}
    assert len(listed) == 2
    assert listed[connection["id"]]["isConnected"] is True
    assert listed[connection["id"]]["isPrimary"] is connection["isPrimary"]


def test_revoking_by_email_marks_every_connection_of_that_account(sandbox: Sandbox) -> None:
    google = sandbox.connect(sandbox.api(user=ALICE_ID), email="shared@example.com")
    bobs = sandbox.connect(sandbox.api(user=BOB_ID), email="SHARED@example.com")
    other = sandbox.connect(sandbox.api(user=ALICE_ID), "outlook", email="alice@outlook.example")
    with sandbox.client() as admin:
        answer = admin.post("/_sandbox/connections/revoke", params={"email": "shared@example.com"})
    assert answer.status_code == 200
    assert sorted(answer.json()["revoked"]) == sorted([google["id"], bobs["id"]])
    alices = {
        c["id"]: c["isConnected"] for c in sandbox.api().get(CONNECTIONS).json()["connections"]
    }
    assert alices == {google["id"]: False, other["id"]: True}


def test_another_account_does_not_restore_a_revoked_connection(sandbox: Sandbox) -> None:
    api = sandbox.api()
    connection = sandbox.connect(api, email="alice@gmail.example")
    with sandbox.client() as admin:
        admin.post(f"/_sandbox/connections/{connection['id']}/revoke").raise_for_status()
    fresh = sandbox.connect(api, email="alice.work@gmail.example")
    listed = {c["id"]: c for c in api.get(CONNECTIONS).json()["connections"]}
    assert listed[connection["id"]]["isConnected"] is False
    assert listed[fresh["id"]]["isConnected"] is True
