"""The session cookie: attributes, content, signature, key rotation, development mode."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pytest
from fastapi import FastAPI
from itsdangerous import URLSafeSerializer
from pydantic import ValidationError

from app.session.cookie import _SALT, INSECURE_NAME, SECURE_NAME, SessionData
from app.state.memory import MemoryState
from tests.session.conftest import (
    ALICE_MID,
    Api,
    FakeClock,
    assert_problem,
    cleared,
    cookie_payload,
    decode_cookie,
    new_cookie,
    serving,
    set_cookies,
    ticket,
)
from tests.support.settings import (
    API_KEY,
    OLD_SESSION_KEY,
    SESSION_KEY,
    TICKET_SECRET,
    make_settings,
)

FOREIGN_KEY = "Zx9Cv2Bn5Mq8Wl1Ek4Rj7Th0Yg3Uf6Id9Os2Pa5Sd8Fg"


def test_login_cookie_has_the_host_prefix_and_strict_attributes(api: Api) -> None:
    response = api.login(ticket())
    [(value, attributes)] = set_cookies(response, SECURE_NAME)
    assert value
    # Exactly these: no Domain (a __Host- cookie must not have one), no Expires.
    assert attributes == {
        "path": "/",
        "max-age": "43200",
        "httponly": "",
        "secure": "",
        "samesite": "Lax",
    }


def test_cookie_lifetime_follows_the_absolute_timeout() -> None:
    with serving(make_settings(session_absolute_timeout=3600)) as api:
        [(_, attributes)] = set_cookies(api.login(ticket()), SECURE_NAME)
    assert attributes["max-age"] == "3600"


def test_every_login_gets_a_new_random_128_bit_session_id(app: FastAPI, api: Api) -> None:
    sids = {decode_cookie(app, api.login_cookie("user-1")).sid for _ in range(5)}
    assert len(sids) == 5
    for sid in sids:
        assert len(base64.urlsafe_b64decode(sid + "=" * (-len(sid) % 4))) == 16


def test_cookie_holds_only_ids_and_timestamps_never_a_secret(
    app: FastAPI, api: Api, clock: FakeClock
) -> None:
    token = ticket("user-1", name="Ada", meetergo_user_id=ALICE_MID, email="ada@app.test")
    value = new_cookie(api.login(token), SECURE_NAME)
    assert value is not None
    payload = cookie_payload(value)
    # The display name is there too (see the report): it is not secret, /auth/me shows it.
    assert set(payload) == {"v", "sid", "sub", "mid", "name", "iat", "seen", "ep"}
    assert payload["sub"] == "user-1"
    assert payload["mid"] == ALICE_MID
    assert payload["iat"] == payload["seen"] == clock.now
    for secret in ("ada@app.test", token, TICKET_SECRET, SESSION_KEY, API_KEY):
        assert secret not in str(payload)
        assert secret not in value


def forge(data: dict[str, Any], *, key: str = SESSION_KEY, salt: str = _SALT) -> str:
    serializer = URLSafeSerializer(key, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})
    return str(serializer.dumps(data))


def valid_payload() -> dict[str, Any]:
    import time  # noqa: PLC0415

    now = float(int(time.time()))
    data = SessionData(
        sid="s" * 22, sub="admin", mid=ALICE_MID, name=None, iat=now, seen=now, ep="unknown"
    )
    return {"v": 2, **asdict(data)}


def flip_signature(value: str) -> str:
    # The first character of the signature carries six real bits; the last one of a base64
    # SHA-256 carries padding bits, so changing it may leave the signature's bytes unchanged.
    payload, signature = value.rsplit(".", 1)
    first = "A" if signature[0] != "A" else "Q"
    return f"{payload}.{first}{signature[1:]}"


def swap_payload(value: str) -> str:
    payload, signature = value.rsplit(".", 1)
    other = forge({**valid_payload(), "sub": "someone-else"}).rsplit(".", 1)[0]
    assert other != payload
    return f"{other}.{signature}"


TAMPERED: dict[str, Callable[[str], str]] = {
    "signature-flipped": flip_signature,
    "payload-swapped": swap_payload,
    "signature-removed": lambda value: value.rsplit(".", 1)[0],
    "garbage": lambda _: "garbage",
    "signed-with-a-foreign-key": lambda _: forge(valid_payload(), key=FOREIGN_KEY),
    "signed-with-the-key-but-another-salt": lambda _: forge(valid_payload(), salt="other"),
    "unknown-format-version": lambda _: forge({**valid_payload(), "v": 3}),
    "format-1-without-epoch": lambda _: forge(
        {k: v for k, v in valid_payload().items() if k != "ep"} | {"v": 1}
    ),
    "field-missing": lambda _: forge({k: v for k, v in valid_payload().items() if k != "seen"}),
    "not-an-object": lambda _: forge(["admin"]),  # type: ignore[arg-type]
}


def test_the_forged_cookies_would_pass_with_the_right_shape(api: Api) -> None:
    """The forging helper is sound: a well-formed payload signed with the real key is accepted."""
    response = api.me(forge({**valid_payload(), "ep": api.epoch()}))
    assert response.status_code == 200
    assert response.json()["appUserId"] == "admin"


@pytest.mark.parametrize("tamper", list(TAMPERED.values()), ids=list(TAMPERED))
@pytest.mark.parametrize("path", ["/auth/me", "/api/test/whoami"])
def test_tampered_cookie_is_unauthenticated_and_dropped(
    api: Api, path: str, tamper: Callable[[str], str]
) -> None:
    cookie = tamper(api.login_cookie())
    response = api.call("GET", path, cookie=cookie)
    assert_problem(response, 401, "unauthenticated")
    assert cleared(response, SECURE_NAME)


def test_cleared_cookie_keeps_the_attributes_the_browser_needs_to_match_it(api: Api) -> None:
    response = api.me("garbage")
    [(value, attributes)] = set_cookies(response, SECURE_NAME)
    assert value == ""
    assert attributes == {
        "path": "/",
        "max-age": "0",
        "httponly": "",
        "secure": "",
        "samesite": "Lax",
        "expires": "Thu, 01 Jan 1970 00:00:00 GMT",
    }


def test_missing_cookie_is_unauthenticated_without_a_set_cookie(api: Api) -> None:
    response = api.me(None)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers.get_list("set-cookie") == []


# -- key rotation ----------------------------------------------------------------------------------


def test_key_rotation_newest_signs_all_verify_removed_key_invalidates(clock: FakeClock) -> None:
    old = make_settings(session_keys=[OLD_SESSION_KEY])
    rotated = make_settings(session_keys=[SESSION_KEY, OLD_SESSION_KEY])
    new = make_settings(session_keys=[SESSION_KEY])
    state = MemoryState(clock=clock)  # one state, as replicas share Redis (or one epoch)
    with (
        serving(old, clock=clock, shared_state=state) as old_api,
        serving(rotated, clock=clock, shared_state=state) as rotated_api,
        serving(new, clock=clock, shared_state=state) as new_api,
    ):
        signed_by_old = old_api.login_cookie()
        # Rotation in: the old key still verifies.
        assert rotated_api.me(signed_by_old).status_code == 200, rotated_api.me(signed_by_old).text
        # Removal: what the removed key signed no longer verifies.
        assert_problem(new_api.me(signed_by_old), 401, "unauthenticated")

        # The sliding refresh re-signs with the newest key.
        clock.advance(60)
        refreshed = new_cookie(rotated_api.whoami(signed_by_old), SECURE_NAME)
        assert refreshed is not None
        assert new_api.me(refreshed).status_code == 200
        assert_problem(old_api.me(refreshed), 401, "unauthenticated")

        # A login signs with the newest (first) key.
        signed_by_rotated = rotated_api.login_cookie()
        assert new_api.me(signed_by_rotated).status_code == 200
        assert_problem(old_api.me(signed_by_rotated), 401, "unauthenticated")


# -- development mode ------------------------------------------------------------------------------


def test_plain_http_cookie_only_with_the_explicit_development_setting() -> None:
    settings = make_settings(
        environment="development", public_url="http://localhost:8000", insecure_cookies=True
    )
    with serving(settings) as api:
        api.client.base_url = "http://localhost:8000"  # type: ignore[assignment]
        response = api.call(
            "POST",
            "/auth/session",
            json={"ticket": ticket()},
            headers={"Origin": "http://localhost:8000"},
        )
        assert response.status_code == 200, response.text
        assert set_cookies(response, SECURE_NAME) == []
        [(value, attributes)] = set_cookies(response, INSECURE_NAME)
        assert attributes == {"path": "/", "max-age": "43200", "httponly": "", "samesite": "Lax"}
        assert api.me(value).status_code == 200


def test_development_alone_keeps_the_secure_host_cookie() -> None:
    settings = make_settings(environment="development", public_url="http://localhost:8000")
    with serving(settings) as api:
        assert api.cookie_name == SECURE_NAME


def test_plain_http_cookies_are_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="BFF_INSECURE_COOKIES"):
        make_settings(insecure_cookies=True)


def test_a_cookie_is_verified_once_and_its_session_rules_still_apply_on_every_request(
    app: FastAPI, api: Api, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The codec remembers cookies that passed (their HMAC and JSON), never their session's fate."""
    codec = app.state.sessions.codec
    verified: list[str] = []
    check = codec._verify

    def counted(value: str) -> SessionData | None:
        verified.append(value)
        return check(value)

    monkeypatch.setattr(codec, "_verify", counted)
    cookie = api.login_cookie()
    for _ in range(3):
        assert api.me(cookie).status_code == 200
    assert verified.count(cookie) == 1

    # A forged value is checked every time it comes, and refused every time.
    forged = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    for _ in range(2):
        assert_problem(api.me(forged), 401, "unauthenticated")
    assert verified.count(forged) == 2

    # Logout and the timeouts are the session's rules, applied to the remembered content.
    api.logout(cookie)
    assert_problem(api.me(cookie), 401, "session_revoked")
    second = api.login_cookie()
    assert api.me(second).status_code == 200
    clock.advance(app.state.settings.session_idle_timeout + 1)
    assert_problem(api.me(second), 401, "session_expired")
