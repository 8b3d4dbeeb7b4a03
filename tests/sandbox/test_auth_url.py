"""GET /v4/calendar-connections/auth/{provider}/url: the consent URL and what it checks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox.seed import ALICE_ID
from tests.sandbox.support import CONNECTIONS, Sandbox, StartSandbox, auth_url_path, nest

PROVIDER_ENUM = "google, outlook, icloud, caldav, exchange, smart-we, ics"


@pytest.mark.parametrize("provider", ["google", "outlook"])
def test_the_auth_url_points_at_the_sandbox_consent_screen(sandbox: Sandbox, provider: str) -> None:
    response = sandbox.api().get(
        auth_url_path(provider),
        params={"redirectUrl": "https://app.example/cb", "setAsCalendarSync": "true"},
    )
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["authUrl", "provider"]
    assert body["provider"] == provider
    url = urlsplit(body["authUrl"])
    assert f"{url.scheme}://{url.netloc}" == sandbox.url
    assert url.path == f"/consent/{provider}"
    state = parse_qs(url.query)["state"]
    assert len(state) == 1
    assert len(state[0]) >= 20


def test_every_auth_url_carries_a_new_state(sandbox: Sandbox) -> None:
    api = sandbox.api()
    first = api.get(auth_url_path()).json()["authUrl"]
    second = api.get(auth_url_path()).json()["authUrl"]
    assert first != second


def test_the_auth_url_is_built_on_the_configured_public_url(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(public_url="https://sandbox.example:8443/")
    auth_url = sandbox.api().get(auth_url_path()).json()["authUrl"]
    assert auth_url.startswith("https://sandbox.example:8443/consent/google?state=")


@pytest.mark.parametrize("provider", ["yahoo", "Google", "microsoft", "google "])
def test_a_provider_outside_meetergos_enum_is_refused(sandbox: Sandbox, provider: str) -> None:
    response = sandbox.api().get(auth_url_path(provider))
    assert response.status_code == 400
    assert response.json() == nest(
        400, [f"provider must be one of the following values: {PROVIDER_ENUM}"], "Bad Request"
    )


@pytest.mark.parametrize("provider", ["icloud", "caldav", "exchange", "smart-we", "ics"])
def test_a_provider_without_a_consent_screen_in_the_sandbox_is_refused(
    sandbox: Sandbox, provider: str
) -> None:
    response = sandbox.api().get(auth_url_path(provider))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Bad Request"
    assert f"Provider {provider} has no consent screen in the sandbox" in body["message"]


@pytest.mark.parametrize(
    "redirect_url",
    [
        "/calendar/callback",
        "app.example/callback",
        "ftp://app.example/callback",
        "javascript:alert(1)",
        "https://",
        "http:///path-only",
        "https://app.example/call back",
        "",
    ],
)
def test_redirect_url_must_be_an_absolute_http_url(sandbox: Sandbox, redirect_url: str) -> None:
    response = sandbox.api().get(auth_url_path(), params={"redirectUrl": redirect_url})
    assert response.status_code == 400
    assert response.json() == nest(400, ["redirectUrl must be a URL address"], "Bad Request")


@pytest.mark.parametrize(
    "redirect_url",
    [
        "http://localhost:8000/connect/callback/abc",
        "https://app.example/cb?ref=1#top",
        "HTTPS://APP.EXAMPLE/cb",
    ],
)
def test_absolute_http_redirect_urls_are_accepted(sandbox: Sandbox, redirect_url: str) -> None:
    response = sandbox.api().get(auth_url_path(), params={"redirectUrl": redirect_url})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["yes", "1", "TRUE", ""])
def test_set_as_calendar_sync_must_be_true_or_false(sandbox: Sandbox, value: str) -> None:
    response = sandbox.api().get(auth_url_path(), params={"setAsCalendarSync": value})
    assert response.status_code == 400
    assert response.json() == nest(
        400, ["setAsCalendarSync must be a boolean string"], "Bad Request"
    )


def test_query_errors_are_reported_together(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(validation_message_form="string")
    response = sandbox.api().get(
        auth_url_path(), params={"redirectUrl": "nope", "setAsCalendarSync": "maybe"}
    )
    assert response.json() == {
        **nest(400, "Validation failed", "Bad Request"),
        "errors": [
            {"field": "redirectUrl", "message": "redirectUrl must be a URL address"},
            {"field": "setAsCalendarSync", "message": "setAsCalendarSync must be a boolean string"},
        ],
    }


def test_the_state_expires_after_ten_minutes(sandbox: Sandbox) -> None:
    auth_url, _ = sandbox.auth_url(sandbox.api())
    browser = sandbox.client()
    sandbox.clock.advance(599)
    assert browser.get(auth_url).status_code == 200
    sandbox.clock.advance(1)
    assert browser.get(auth_url).status_code == 400


def test_the_state_lifetime_is_a_setting(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(state_ttl_seconds=5)
    auth_url, _ = sandbox.auth_url(sandbox.api())
    sandbox.clock.advance(5)
    assert sandbox.client().get(auth_url).status_code == 400


def test_asking_for_an_auth_url_creates_no_connection(sandbox: Sandbox) -> None:
    sandbox.auth_url(sandbox.api(user=ALICE_ID))
    assert sandbox.api().get(CONNECTIONS).json()["total"] == 0
