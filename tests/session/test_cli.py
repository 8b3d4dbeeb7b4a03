"""The operator commands: ``meetergo-bff mint-ticket`` and ``meetergo-bff revoke-sessions``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from app.cli import EXIT_CONFIG, main
from app.session.cookie import SECURE_NAME
from app.session.identity import user_hash
from app.state.redis import RedisState
from app.state.store import DEFAULT_PREFIX
from tests.session.conftest import ALICE_MID, AUDIENCE, assert_problem, new_cookie, serving, ticket
from tests.support.redis import redis_url_or_skip
from tests.support.settings import API_KEY, SESSION_KEY, TICKET_SECRET, make_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A complete BFF_* environment, read from a directory without a .env file."""
    monkeypatch.chdir(tmp_path)
    values = {
        "BFF_PUBLIC_URL": "https://bff.test",
        "BFF_MEETERGO_API_KEY": API_KEY,
        "BFF_SESSION_KEYS": SESSION_KEY,
        "BFF_TICKET_SECRET": TICKET_SECRET,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def mint(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["mint-ticket", *args]) == 0
    out = capsys.readouterr().out.strip()
    assert "\n" not in out
    return out


# -- mint-ticket ----------------------------------------------------------------------------------


def test_minted_ticket_verifies_and_logs_in_once(
    environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(make_settings()) as api:  # first: a ticket older than its epoch is refused
        token = mint(
            capsys,
            "--sub",
            "cli-user",
            "--name",
            "Ada",
            "--meetergo-user-id",
            ALICE_MID,
            "--ttl",
            "30",
        )
        claims = jwt.decode(token, TICKET_SECRET, algorithms=["HS256"], audience=AUDIENCE)
        assert claims["sub"] == "cli-user"
        assert claims["name"] == "Ada"
        assert claims["meetergo_user_id"] == ALICE_MID
        assert claims["exp"] - claims["iat"] == 30
        assert "iss" not in claims
        response = api.login(token)
        assert response.status_code == 200
        assert response.json()["appUserId"] == "cli-user"
        assert response.json()["meetergoUserMapped"] is True
        assert_problem(api.login(token), 401, "ticket_replayed")


def test_minted_ticket_follows_the_configured_audience_issuer_and_maximum_lifetime(
    environment: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BFF_TICKET_AUDIENCE", "calendar-eu")
    monkeypatch.setenv("BFF_TICKET_ISSUER", "https://app.test")
    monkeypatch.setenv("BFF_TICKET_MAX_AGE", "120")
    settings = make_settings(
        ticket_audience="calendar-eu", ticket_issuer="https://app.test", ticket_max_age=120
    )
    # The service runs first: a ticket minted before its state epoch began would be refused.
    with serving(settings) as api:
        token = mint(capsys, "--sub", "cli-user", "--ttl", "9999")
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["aud"] == "calendar-eu"
        assert claims["iss"] == "https://app.test"
        assert claims["exp"] - claims["iat"] == 120
        assert api.login(token).status_code == 200


def test_eddsa_ticket_is_minted_with_the_private_key_file(
    environment: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    private_file = tmp_path / "ticket.key"
    private_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("BFF_TICKET_ALGORITHM", "EdDSA")
    monkeypatch.setenv("BFF_TICKET_PUBLIC_KEY", public)
    monkeypatch.delenv("BFF_TICKET_SECRET")

    assert main(["mint-ticket", "--sub", "cli-user"]) == EXIT_CONFIG
    assert "--private-key" in capsys.readouterr().err

    settings = make_settings(ticket_algorithm="EdDSA", ticket_secret=None, ticket_public_key=public)
    with serving(settings) as api:  # first: see the test above
        token = mint(capsys, "--sub", "cli-user", "--private-key", str(private_file))
        assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
        assert api.login(token).status_code == 200


def test_mint_ticket_reports_a_missing_configuration_instead_of_a_trace(
    environment: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BFF_TICKET_SECRET")
    assert main(["mint-ticket", "--sub", "cli-user"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "BFF_TICKET_SECRET" in err
    assert "Traceback" not in err


def test_mint_ticket_runs_as_a_command(environment: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, **environment, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "mint-ticket", "--sub", "cli-user"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(
        result.stdout.strip(), TICKET_SECRET, algorithms=["HS256"], audience=AUDIENCE
    )
    assert claims["sub"] == "cli-user"


# -- revoke-sessions ------------------------------------------------------------------------------


def test_revoke_sessions_without_redis_points_at_the_endpoint(
    environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["revoke-sessions", "--user", "user-1"]) == EXIT_CONFIG
    captured = capsys.readouterr()
    assert "POST /manage/sessions/revoke" in captured.err
    assert "BFF_REDIS_URL" in captured.err
    assert captured.out == ""


class RedisKeys:
    """The keys a test writes under the default prefix (the CLI has no prefix setting)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.names: list[str] = []

    def revoked_user(self, user: str) -> None:
        self.names.append(f"{DEFAULT_PREFIX}rev:user:{user_hash(user)}")

    def used_ticket(self, token: str) -> str:
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        self.names.append(f"{DEFAULT_PREFIX}ticket:{hashlib.sha256(jti.encode()).hexdigest()}")
        return token

    def delete(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            if self.names:
                client.delete(*self.names)
        finally:
            client.close()


@pytest.fixture
def redis_keys(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisKeys]:
    url = redis_url_or_skip()
    monkeypatch.setenv("BFF_REDIS_URL", url)
    keys = RedisKeys(url)
    yield keys
    keys.delete()


@pytest.mark.redis
def test_revoke_sessions_with_redis_ends_the_users_sessions_on_every_replica(
    redis_keys: RedisKeys, capsys: pytest.CaptureFixture[str]
) -> None:
    user = f"cli-test-{uuid.uuid4().hex}"
    redis_keys.revoked_user(user)
    settings = make_settings(redis_url=redis_keys.url)
    with (
        serving(settings, shared_state=RedisState.from_url(redis_keys.url)) as replica,
        serving(settings, shared_state=RedisState.from_url(redis_keys.url)) as other_replica,
    ):
        cookie = new_cookie(replica.login(redis_keys.used_ticket(ticket(user))), SECURE_NAME)
        bystander = new_cookie(
            replica.login(redis_keys.used_ticket(ticket(f"{user}-other"))), SECURE_NAME
        )
        assert other_replica.me(cookie).status_code == 200

        assert main(["revoke-sessions", "--user", user]) == 0
        assert repr(user) in capsys.readouterr().out

        for api in (replica, other_replica):
            assert_problem(api.me(cookie), 401, "session_revoked")
        assert other_replica.me(bystander).status_code == 200
