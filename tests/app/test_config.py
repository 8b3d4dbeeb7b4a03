"""The configuration refuses unsafe start-ups with messages that say what to set."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from app.config import ConfigError, Settings, load_settings, masked
from tests.support.settings import API_KEY, SESSION_KEY, TICKET_SECRET, make_settings

ROOT = Path(__file__).resolve().parents[2]


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """Load from real environment variables, the way the service starts."""
    base = {
        "BFF_PUBLIC_URL": "https://bff.test",
        "BFF_MEETERGO_API_KEY": API_KEY,
        "BFF_SESSION_KEYS": SESSION_KEY,
        "BFF_TICKET_SECRET": TICKET_SECRET,
    }
    base.update(env)
    for name, value in base.items():
        if value == "<unset>":
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return load_settings(_env_file=None)


def problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, **env)
    return "\n".join(caught.value.problems)


def test_valid_environment_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, BFF_APP_ORIGINS="https://app.test, https://admin.app.test:8443")
    assert settings.app_origins == ["https://app.test", "https://admin.app.test:8443"]
    assert settings.meetergo_api_key.get_secret_value() == API_KEY
    assert settings.environment == "production"


def test_missing_api_key_names_the_variable_and_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = problems(monkeypatch, BFF_MEETERGO_API_KEY="<unset>")
    assert "BFF_MEETERGO_API_KEY is not set" in text
    assert "meetergo platform API key" in text


def test_missing_session_keys_say_how_to_generate_one(monkeypatch: pytest.MonkeyPatch) -> None:
    text = problems(monkeypatch, BFF_SESSION_KEYS="<unset>")
    assert "BFF_SESSION_KEYS is not set" in text
    assert "secrets.token_urlsafe" in text


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, BFF_MEETERGO_API_KEY="<unset>", BFF_SESSION_KEYS="short")
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("tooShort123", "shorter than 32 bytes"),
        ("change-me-to-a-random-key-of-at-least-32-bytes", "placeholder"),
        ("your-secret-key-goes-here-please-0123456789", "placeholder"),
        ("a" * 64, "too few distinct characters"),
        ("abababababababababababababababababab", "too few distinct characters"),
    ],
)
def test_weak_session_keys_are_refused(
    monkeypatch: pytest.MonkeyPatch, key: str, reason: str
) -> None:
    text = problems(monkeypatch, BFF_SESSION_KEYS=key)
    assert text.startswith("BFF_SESSION_KEYS")
    assert reason in text
    assert key not in text, "the refused secret itself must never be printed"


def test_a_weak_key_anywhere_in_the_rotation_list_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = problems(monkeypatch, BFF_SESSION_KEYS=f"{SESSION_KEY},short")
    assert "key #2" in text


def test_session_keys_accept_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    other = SESSION_KEY[::-1]
    settings = load(monkeypatch, BFF_SESSION_KEYS=f'["{SESSION_KEY}", "{other}"]')
    assert [k.get_secret_value() for k in settings.session_keys] == [SESSION_KEY, other]


def test_placeholder_api_key_from_the_example_file_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = problems(monkeypatch, BFF_MEETERGO_API_KEY="ak_live:change-me")
    assert "BFF_MEETERGO_API_KEY" in text
    assert "placeholder" in text


def test_plain_http_public_url_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = problems(monkeypatch, BFF_PUBLIC_URL="http://bff.test")
    assert "BFF_PUBLIC_URL must be https" in text
    assert "BFF_ENVIRONMENT=development" in text


def test_plain_http_is_an_explicit_development_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(
        monkeypatch,
        BFF_PUBLIC_URL="http://localhost:8000",
        BFF_ENVIRONMENT="development",
        BFF_APP_ORIGINS="http://localhost:8000",
    )
    assert settings.is_development
    assert settings.allowed_origins == ("http://localhost:8000",)


def test_plain_http_app_origin_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = problems(monkeypatch, BFF_APP_ORIGINS="http://app.test")
    assert "BFF_APP_ORIGINS" in text
    assert "https" in text


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.test/",
        "https://app.test/path",
        "https://app.test?x=1",
        "https://app.test#frag",
        "https://*.app.test",
        "app.test",
        "ftp://app.test",
        "https://user:pw@app.test",
        "https://App.Test",
        "https://app.test:99999",
        "https://app.test:08443",
        "*",
        "null",
    ],
)
def test_app_origins_must_be_exact_origins(monkeypatch: pytest.MonkeyPatch, origin: str) -> None:
    text = problems(monkeypatch, BFF_APP_ORIGINS=origin)
    assert "BFF_APP_ORIGINS" in text
    assert "scheme://host[:port]" in text


@pytest.mark.parametrize(
    "origin", ["https://app.test", "https://app.test:8443", "https://[::1]:8443", "https://a-b.c.d"]
)
def test_exact_origins_are_accepted(monkeypatch: pytest.MonkeyPatch, origin: str) -> None:
    assert load(monkeypatch, BFF_APP_ORIGINS=origin).app_origins == [origin]


def test_public_url_with_a_path_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "BFF_PUBLIC_URL" in problems(monkeypatch, BFF_PUBLIC_URL="https://bff.test/calendar")


def test_app_origins_default_to_the_public_origin() -> None:
    assert make_settings().allowed_origins == ("https://bff.test",)


def test_demo_mode_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "BFF_DEMO=true" in problems(monkeypatch, BFF_DEMO="true")


def test_unknown_provider_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "BFF_PROVIDERS" in problems(monkeypatch, BFF_PROVIDERS="google,myspace")


def test_empty_redis_url_means_no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch, BFF_REDIS_URL="").redis_url is None


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"BFF_PUBLIC_URL=https://from-dotenv.test\nBFF_MEETERGO_API_KEY={API_KEY}\n"
        f"BFF_SESSION_KEYS={SESSION_KEY}\nBFF_TICKET_SECRET={TICKET_SECRET}\n"
    )
    assert load_settings(_env_file=env_file).public_url == "https://from-dotenv.test"


def test_masked_configuration_hides_every_secret() -> None:
    settings = make_settings(redis_url="redis://:hunter2-redis-password@127.0.0.1:6379/0")
    text = repr(masked(settings))
    for secret in (API_KEY, SESSION_KEY, "hunter2-redis-password"):
        assert secret not in text
    assert masked(settings)["BFF_PUBLIC_URL"] == "https://bff.test"


def test_env_example_documents_every_setting_and_is_refused_as_is() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^(BFF_[A-Z_]+)=", example, flags=re.MULTILINE))
    expected = {f"BFF_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected
    with pytest.raises(ConfigError):
        load_settings(_env_file=ROOT / ".env.example")


def test_refresh_interval_must_leave_room_inside_the_idle_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = problems(monkeypatch, BFF_SESSION_IDLE_TIMEOUT="60", BFF_SESSION_REFRESH_INTERVAL="60")
    assert "BFF_SESSION_REFRESH_INTERVAL must be at most half" in text


def test_redis_prefix_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "BFF_REDIS_PREFIX" in problems(monkeypatch, BFF_REDIS_PREFIX="has space")
    assert load(monkeypatch, BFF_REDIS_PREFIX="tenant-a:").redis_prefix == "tenant-a:"


# -- every problem in one run ---------------------------------------------------------------------


def test_check_config_on_an_empty_environment_reports_every_problem_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import EXIT_CONFIG, main  # noqa: PLC0415

    for name in [name for name in os.environ if name.startswith("BFF_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env file either
    assert main(["check-config"]) == EXIT_CONFIG
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  - ")]
    # The three required variables and the rule that HS256 tickets need their secret: one run.
    assert [line.split()[1].rstrip(":") for line in lines] == [
        "BFF_PUBLIC_URL",
        "BFF_MEETERGO_API_KEY",
        "BFF_SESSION_KEYS",
        "BFF_TICKET_SECRET",
    ]
    for line in lines:
        assert "set" in line  # each says what to set


def test_problems_of_rules_between_settings_come_together_with_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = problems(
        monkeypatch,
        BFF_PUBLIC_URL="http://bff.test",  # not https in production
        BFF_DEMO="true",  # demo outside development
        BFF_SESSION_KEYS="short",
        BFF_TICKET_SECRET="<unset>",
        BFF_USER_MAPPING="file",  # without a file
        BFF_SESSION_IDLE_TIMEOUT="600",
        BFF_SESSION_REFRESH_INTERVAL="400",
        BFF_METRICS_TOKEN="tiny",
    )
    for expected in (
        "BFF_PUBLIC_URL must be https",
        "BFF_DEMO=true",
        "BFF_SESSION_KEYS: key #1 is shorter",
        "BFF_TICKET_SECRET is not set",
        "BFF_USER_MAPPING_FILE is not set",
        "BFF_SESSION_REFRESH_INTERVAL must be at most half",
        "BFF_METRICS_TOKEN",
    ):
        assert expected in text, text
    assert len(text.splitlines()) == 7, text


def test_start_up_checks_of_files_and_keys_are_reported_together(tmp_path: Path) -> None:
    from app.preflight import startup_problems  # noqa: PLC0415

    settings = make_settings(
        disabled_routes=["dropDatabase"],
        ticket_algorithm="EdDSA",
        ticket_secret=None,
        ticket_public_key=str(tmp_path / "missing.pem"),
        user_mapping="file",
        user_mapping_file=str(tmp_path / "missing.csv"),
    )
    found = startup_problems(settings)
    assert [line.split(":")[0] for line in found] == [
        "BFF_DISABLED_ROUTES",
        "BFF_TICKET_PUBLIC_KEY",
        "BFF_USER_MAPPING_FILE",
    ]


# -- the meetergo key -----------------------------------------------------------------------------


def test_a_personal_access_token_is_refused_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = problems(monkeypatch, BFF_MEETERGO_API_KEY="rgo-k7Qw2Zp9Lm4Xv8Rt1Yb6Nc3Hd5Fj0Gs2")
    assert "BFF_MEETERGO_API_KEY: is a personal access token (rgo-...)" in text
    assert "platform API key (ak_live:...)" in text
    text = problems(monkeypatch, BFF_MEETERGO_API_KEY_NEXT="rgo-k7Qw2Zp9Lm4Xv8Rt1Yb6Nc3Hd5Fj0Gs2")
    assert "BFF_MEETERGO_API_KEY_NEXT: is a personal access token" in text


def test_the_next_key_must_differ_from_the_current_one(monkeypatch: pytest.MonkeyPatch) -> None:
    text = problems(monkeypatch, BFF_MEETERGO_API_KEY_NEXT=API_KEY)
    assert "BFF_MEETERGO_API_KEY_NEXT: is the same key as BFF_MEETERGO_API_KEY" in text
    assert load(monkeypatch, BFF_MEETERGO_API_KEY_NEXT="").meetergo_api_key_next is None
