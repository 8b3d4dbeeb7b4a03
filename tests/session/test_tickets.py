"""Login tickets: signature, algorithm pinning, claims, lifetime and single use, over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.warnings import InsecureKeyLengthWarning

from app.config import ConfigError
from app.main import create_app
from app.session.tickets import LEEWAY_SECONDS, TicketVerifier
from app.state.epoch import StateEpoch
from app.state.memory import MemoryState
from tests.session.conftest import (
    ALICE_MID,
    AUDIENCE,
    Api,
    FakeClock,
    assert_problem,
    claims,
    encode,
    new_cookie,
    serving,
    ticket,
)
from tests.support.settings import TICKET_SECRET, make_settings

OTHER_SECRET = "Wq5Er8Ty1Ui4Op7As0Df3Gh6Jk9Lz2Xc5Vb8Nm1Qw4E"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand, as an attacker would: HMAC-SHA256 with ``key``, or no signature."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def pem_public(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def pem_private(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def rs256_api(rsa_key: rsa.RSAPrivateKey) -> Iterator[Api]:
    settings = make_settings(
        ticket_algorithm="RS256", ticket_secret=None, ticket_public_key=pem_public(rsa_key)
    )
    with serving(settings) as api:
        yield api


@pytest.fixture
def eddsa_api(ed_key: ed25519.Ed25519PrivateKey) -> Iterator[Api]:
    settings = make_settings(
        ticket_algorithm="EdDSA", ticket_secret=None, ticket_public_key=pem_public(ed_key)
    )
    with serving(settings) as api:
        yield api


def assert_refused(api: Api, token: str, code: str = "ticket_invalid") -> None:
    response = api.login(token)
    assert_problem(response, 401, code)
    assert response.headers.get_list("set-cookie") == []


# -- HS256, the default ----------------------------------------------------------------------------


def test_valid_ticket_starts_a_session(api: Api) -> None:
    response = api.login(ticket("user-1", name="Ada Lovelace", meetergo_user_id=ALICE_MID))
    assert response.status_code == 200
    body = response.json()
    assert body["appUserId"] == "user-1"
    assert body["name"] == "Ada Lovelace"
    assert body["meetergoUserMapped"] is True
    assert new_cookie(response, api.cookie_name)


def test_minimal_ticket_without_optional_claims_starts_an_unmapped_session(api: Api) -> None:
    response = api.login(encode(claims()))
    assert response.status_code == 200
    assert response.json()["meetergoUserMapped"] is False
    assert response.json()["name"] is None


def test_a_ticket_works_only_once(api: Api) -> None:
    token = ticket()
    assert api.login(token).status_code == 200
    assert_refused(api, token, "ticket_replayed")


def test_a_refused_ticket_is_not_spent(api: Api) -> None:
    """A request refused before verification (wrong origin) leaves the ticket usable."""
    token = ticket()
    refused = api.call(
        "POST", "/auth/session", json={"ticket": token}, headers={"Origin": "https://evil.test"}
    )
    assert_problem(refused, 403, "origin_not_allowed")
    assert api.login(token).status_code == 200


def test_expired_ticket_is_refused_as_expired(api: Api) -> None:
    assert_refused(api, ticket(now=time.time() - 400, ttl=60), "ticket_expired")


@pytest.mark.parametrize(("configured", "lifetime"), [(None, 301), (60, 61), (10, 3600)])
def test_lifetime_longer_than_the_configured_maximum_is_refused(
    configured: int | None, lifetime: int
) -> None:
    overrides = {} if configured is None else {"ticket_max_age": configured}
    with serving(make_settings(**overrides)) as api:
        assert_refused(api, ticket(ttl=lifetime))


@pytest.mark.parametrize(("configured", "lifetime"), [(None, 300), (60, 60)])
def test_lifetime_of_exactly_the_maximum_is_accepted(configured: int | None, lifetime: int) -> None:
    overrides = {} if configured is None else {"ticket_max_age": configured}
    with serving(make_settings(**overrides)) as api:
        assert api.login(ticket(ttl=lifetime)).status_code == 200


@pytest.mark.parametrize(
    "audience",
    [
        pytest.param("another-service", id="wrong"),
        pytest.param([AUDIENCE, "another-service"], id="list-containing-ours"),
        pytest.param(None, id="missing"),
    ],
)
def test_wrong_or_missing_audience_is_refused(api: Api, audience: Any) -> None:
    assert_refused(api, encode(claims(aud=audience)))


def test_configured_audience_is_the_one_required() -> None:
    with serving(make_settings(ticket_audience="calendar-eu")) as api:
        assert_refused(api, encode(claims(aud=AUDIENCE)))
        assert api.login(encode(claims(aud="calendar-eu"))).status_code == 200


@pytest.mark.parametrize(
    "issuer",
    [pytest.param("https://evil.test", id="wrong"), pytest.param(None, id="missing")],
)
def test_configured_issuer_is_required(issuer: str | None) -> None:
    with serving(make_settings(ticket_issuer="https://app.test")) as api:
        assert_refused(api, encode(claims(iss=issuer)))
        assert api.login(encode(claims(iss="https://app.test"))).status_code == 200


def test_issuer_is_not_checked_when_not_configured(api: Api) -> None:
    assert api.login(encode(claims(iss="https://anyone.test"))).status_code == 200


@pytest.mark.parametrize("missing", ["sub", "iat", "exp", "jti", "aud"])
def test_every_required_claim_must_be_present(api: Api, missing: str) -> None:
    assert_refused(api, encode(claims(**{missing: None})))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"sub": ""}, id="empty-sub"),
        pytest.param({"sub": 42}, id="numeric-sub"),
        pytest.param({"sub": "x" * 257}, id="long-sub"),
        pytest.param({"sub": "bad\nsub"}, id="control-char-sub"),
        pytest.param({"jti": "short"}, id="short-jti"),
        pytest.param({"jti": "has a space in it"}, id="spaced-jti"),
        pytest.param({"meetergo_user_id": "not-a-uuid"}, id="mid-not-uuid"),
        pytest.param({"meetergo_user_id": "{" + ALICE_MID + "}"}, id="mid-braced"),
        pytest.param({"name": "x" * 201}, id="long-name"),
        pytest.param({"email": ["a@b.test"]}, id="email-not-string"),
        # Offsets from now, resolved when the test runs: a time taken at collection would be in
        # the past by the time a long run gets here.
        pytest.param({"iat": 600, "exp": 660}, id="future"),
    ],
)
def test_malformed_claims_are_refused(api: Api, overrides: dict[str, Any]) -> None:
    if "iat" in overrides:
        now = int(time.time())
        overrides = {**overrides, "iat": now + overrides["iat"], "exp": now + overrides["exp"]}
    assert_refused(api, encode(claims(**overrides)))


def test_a_ticket_issued_in_the_future_is_refused(api: Api) -> None:
    # The moments are taken now, not when the module is collected: in a long run, a collection-time
    # "future" ticket has already expired by the time this test runs.
    now = int(time.time())
    assert_refused(api, encode(claims(iat=now + 600, exp=now + 660)))


def test_meetergo_user_id_claim_is_canonicalised(api: Api) -> None:
    cookie = api.login_cookie(meetergo_user_id=ALICE_MID.upper())
    assert api.whoami(cookie).json() == {"meetergoUserId": ALICE_MID}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: encode(claims(), key=OTHER_SECRET), id="wrong-secret"),
        pytest.param(lambda: with_short_key(claims(), "HS384"), id="hs384-same-secret"),
        pytest.param(lambda: with_short_key(claims(), "HS512"), id="hs512-same-secret"),
        pytest.param(lambda: encode(claims(), key=None, algorithm="none"), id="alg-none"),
        pytest.param(
            lambda: hand_signed({"alg": "none", "typ": "JWT"}, claims(), None), id="alg-none-hand"
        ),
        pytest.param(
            lambda: hand_signed({"alg": "NONE", "typ": "JWT"}, claims(), None), id="alg-NONE"
        ),
        pytest.param(lambda: tamper_payload(encode(claims())), id="payload-tampered"),
        pytest.param(lambda: encode(claims())[:-4] + "AAAA", id="signature-tampered"),
        pytest.param(lambda: "not-a-jwt", id="garbage"),
        pytest.param(lambda: "a.b.c", id="three-garbage-parts"),
    ],
)
def test_bad_signature_or_algorithm_is_refused(api: Api, token: Callable[[], str]) -> None:
    assert_refused(api, token())


def with_short_key(payload: dict[str, Any], algorithm: str) -> str:
    """Signed with the shared secret under another HMAC algorithm (PyJWT warns: it is short)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return encode(payload, algorithm=algorithm)


def tamper_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["sub"] = "admin"
    return f"{header}.{b64url(json.dumps(data).encode())}.{signature}"


def test_hand_built_hs256_tokens_are_accepted_when_genuine(api: Api) -> None:
    """The hand-built tokens above are well-formed: signed with the real secret, one passes."""
    token = hand_signed({"alg": "HS256", "typ": "JWT"}, claims(), TICKET_SECRET.encode())
    assert api.login(token).status_code == 200


def test_oversized_ticket_is_refused(api: Api) -> None:
    response = api.login(encode(claims(name="x" * 9000)))
    assert response.status_code in (401, 422)
    assert response.json()["code"] in ("ticket_invalid", "validation_error")
    assert response.headers.get_list("set-cookie") == []


# -- RS256 and EdDSA -------------------------------------------------------------------------------


def test_rs256_ticket_signed_with_the_apps_private_key_is_accepted(
    rs256_api: Api, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = encode(claims(name="Rosa"), key=pem_private(rsa_key), algorithm="RS256")
    response = rs256_api.login(token)
    assert response.status_code == 200
    assert response.json()["name"] == "Rosa"


def test_eddsa_ticket_signed_with_the_apps_private_key_is_accepted(
    eddsa_api: Api, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    token = encode(claims(name="Edda"), key=ed_key, algorithm="EdDSA")
    response = eddsa_api.login(token)
    assert response.status_code == 200
    assert response.json()["name"] == "Edda"


def test_rs256_confusion_hs256_signed_with_the_public_key_is_refused(
    rs256_api: Api, rsa_key: rsa.RSAPrivateKey
) -> None:
    public = pem_public(rsa_key).encode()
    for key in (public, public.strip()):
        assert_refused(rs256_api, hand_signed({"alg": "HS256", "typ": "JWT"}, claims(), key))


def test_eddsa_confusion_hs256_signed_with_the_public_key_is_refused(
    eddsa_api: Api, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    token = hand_signed({"alg": "HS256", "typ": "JWT"}, claims(), pem_public(ed_key).encode())
    assert_refused(eddsa_api, token)


def test_asymmetric_configuration_refuses_every_other_algorithm(
    rs256_api: Api, eddsa_api: Api, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    rs256 = encode(claims(), key=pem_private(rsa_key), algorithm="RS256")
    eddsa = encode(claims(), key=ed_key, algorithm="EdDSA")
    hs256 = encode(claims())
    unsigned = encode(claims(), key=None, algorithm="none")
    ps256 = encode(claims(), key=pem_private(rsa_key), algorithm="PS256")
    for token in (eddsa, hs256, unsigned, ps256):
        assert_refused(rs256_api, token)
    for token in (rs256, hs256, unsigned):
        assert_refused(eddsa_api, token)


def test_asymmetric_ticket_signed_by_another_key_is_refused(rs256_api: Api, eddsa_api: Api) -> None:
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_ed = ed25519.Ed25519PrivateKey.generate()
    assert_refused(rs256_api, encode(claims(), key=pem_private(other_rsa), algorithm="RS256"))
    assert_refused(eddsa_api, encode(claims(), key=other_ed, algorithm="EdDSA"))


def test_public_key_can_be_given_as_a_file(
    tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    path = tmp_path / "ticket.pub"
    path.write_text(pem_public(ed_key), encoding="ascii")
    settings = make_settings(
        ticket_algorithm="EdDSA", ticket_secret=None, ticket_public_key=str(path)
    )
    with serving(settings) as api:
        assert api.login(encode(claims(), key=ed_key, algorithm="EdDSA")).status_code == 200


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_service_refuses_to_start_with_a_private_key(
    algorithm: str, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    private = pem_private(rsa_key if algorithm == "RS256" else ed_key)
    settings = make_settings(
        ticket_algorithm=algorithm, ticket_secret=None, ticket_public_key=private
    )
    with pytest.raises(ConfigError, match="private key"):
        create_app(settings)


def test_service_refuses_to_start_with_a_key_of_the_wrong_type(
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    settings = make_settings(
        ticket_algorithm="RS256", ticket_secret=None, ticket_public_key=pem_public(ed_key)
    )
    with pytest.raises(ConfigError, match="RS256"):
        create_app(settings)


# -- single use, remembered until expiry -----------------------------------------------------------


def test_used_ticket_is_remembered_until_it_expires_and_no_longer() -> None:
    """The used-ticket marker lives for the ticket's remaining life plus the clock-skew leeway."""
    clock = FakeClock()
    state = MemoryState(clock=clock)
    verifier = TicketVerifier(make_settings(), state, clock=clock)
    anyio.run(StateEpoch(state, clock).current)  # the state's epoch begins, as at start-up
    clock.advance(1)
    token = ticket(ttl=60, now=clock.now)

    async def scenario() -> list[str]:
        outcomes = []
        for step in (0, 60 + LEEWAY_SECONDS - 1, 2):
            clock.advance(step)
            try:
                await verifier.redeem(token)
            except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
                outcomes.append(getattr(exc, "code", type(exc).__name__))
            else:
                outcomes.append("redeemed")
        return outcomes

    # PyJWT checks `exp` against the real clock, so the ticket stays valid while the fake clock
    # (which drives the shared state and the marker's lifetime) moves past its end.
    assert anyio.run(scenario) == ["redeemed", "ticket_replayed", "redeemed"]
