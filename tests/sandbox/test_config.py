"""SandboxSettings: defaults, environment variables, and refusals that tell the operator why."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from sandbox import assumptions
from sandbox.config import SandboxSettings
from sandbox.faults import FaultConfig


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SANDBOX_"):
            monkeypatch.delenv(name)


def test_the_defaults_match_the_documentation() -> None:
    settings = SandboxSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8001)
    assert settings.public_url == "http://127.0.0.1:8001"
    assert (settings.rate_limit_per_minute, settings.rate_limit_burst) == (100, 200)
    assert settings.validation_message_form == "list"
    assert settings.result_params == "current"
    assert settings.redirect_query == "keep"
    assert settings.faults == FaultConfig()
    assert settings.random_seed == 0
    assert settings.state_ttl_seconds == 600
    assert settings.request_log_size == 1000
    assert settings.rate_limit_retry_after == "none"
    assert settings.users == 0
    assert settings.traffic_log_size == 200_000


def test_settings_are_read_from_sandbox_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANDBOX_PORT", "9100")
    monkeypatch.setenv("SANDBOX_PUBLIC_URL", "https://sandbox.example/")
    monkeypatch.setenv("SANDBOX_VALIDATION_MESSAGE_FORM", "string")
    monkeypatch.setenv("SANDBOX_RESULT_PARAMS", "legacy")
    monkeypatch.setenv("SANDBOX_REDIRECT_QUERY", "drop")
    monkeypatch.setenv("SANDBOX_RANDOM_SEED", "42")
    monkeypatch.setenv("SANDBOX_FAULTS", '{"error_rate": 0.25, "paths": ["/set-primary"]}')
    monkeypatch.setenv("SANDBOX_USERS", "500")
    monkeypatch.setenv("SANDBOX_RATE_LIMIT_RETRY_AFTER", "computed")
    monkeypatch.setenv("SANDBOX_REQUEST_LOG_SIZE", "50")
    monkeypatch.setenv("SANDBOX_TRAFFIC_LOG_SIZE", "10")
    settings = SandboxSettings()
    assert settings.users == 500
    assert settings.rate_limit_retry_after == "computed"
    assert (settings.request_log_size, settings.traffic_log_size) == (50, 10)
    assert settings.port == 9100
    assert settings.public_url == "https://sandbox.example"
    assert settings.validation_message_form == "string"
    assert settings.result_params == "legacy"
    assert settings.redirect_query == "drop"
    assert settings.random_seed == 42
    assert settings.faults == FaultConfig(error_rate=0.25, paths=["/set-primary"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SANDBOX_VALIDATION_MESSAGE_FORM", "array"),
        ("SANDBOX_RESULT_PARAMS", "new"),
        ("SANDBOX_REDIRECT_QUERY", "merge"),
        ("SANDBOX_FAULTS", '{"unknown_fault": true}'),
        ("SANDBOX_FAULTS", "not json"),
        ("SANDBOX_RATE_LIMIT_BURST", "0"),
        ("SANDBOX_RATE_LIMIT_RETRY_AFTER", "later"),
        ("SANDBOX_RATE_LIMIT_RETRY_AFTER", "-1"),
        ("SANDBOX_USERS", "-1"),
        ("SANDBOX_USERS", "many"),
        ("SANDBOX_TRAFFIC_LOG_SIZE", "0"),
        ("SANDBOX_PORT", "70000"),
    ],
)
def test_invalid_settings_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        SandboxSettings()


@pytest.mark.parametrize(
    "public_url", ["127.0.0.1:8001", "/sandbox", "ftp://host", "http://host/?x=1"]
)
def test_the_public_url_must_be_an_absolute_http_url(public_url: str) -> None:
    with pytest.raises(ValidationError, match="SANDBOX_PUBLIC_URL must"):
        SandboxSettings(public_url=public_url)


def test_faults_that_are_not_json_are_refused_with_an_example() -> None:
    with pytest.raises(ValidationError, match="SANDBOX_FAULTS must be a JSON object"):
        SandboxSettings(faults="error_rate=1")


def test_a_fixed_retry_after_is_read_as_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_RATE_LIMIT_RETRY_AFTER", "30")
    assert SandboxSettings().rate_limit_retry_after == 30


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        SandboxSettings(rate_limit=5)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("url", "acceptable"),
    [
        ("https://app.example/cb", True),
        ("http://localhost:8000/connect/callback/token", True),
        ("http://[::1]:8000/cb", True),
        ("https://app.example/cb?x=1#y", True),
        ("/cb", False),
        ("https:///cb", False),
        ("mailto:a@b.example", False),
        ("https://app.example/a b", False),
        ("https://app.example/\n", False),
        ("http://[::1/cb", False),
    ],
)
def test_which_redirect_urls_the_sandbox_accepts(url: str, acceptable: bool) -> None:
    assert assumptions.is_acceptable_redirect_url(url) is acceptable


def test_a_new_connection_is_primary_only_when_the_user_has_none() -> None:
    assert assumptions.new_connection_role(user_has_primary=False, set_as_calendar_sync=True) == (
        True,
        True,
    )
    assert assumptions.new_connection_role(user_has_primary=False, set_as_calendar_sync=False) == (
        True,
        False,
    )
    assert assumptions.new_connection_role(user_has_primary=True, set_as_calendar_sync=True) == (
        False,
        False,
    )
