"""The seeded company, keys and users: fixed values, the same on every start."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sandbox.clock import utc_now
from sandbox.config import SandboxSettings
from sandbox.providers import CONSENT_PROVIDERS

COMPANY_ID = "0b8f0c1e-0000-4000-8000-00000000c0de"
COMPANY_NAME = "Acme Demo GmbH"
OTHER_COMPANY_ID = "0b8f0c1e-0000-4000-8000-000000000bad"
OTHER_COMPANY_NAME = "Other Corp"

ADMIN_KEY = "ak_live:7f3e1a52-0000-4000-8000-000000000001:sandbox-admin-secret-0001"
MEMBER_KEY = "ak_live:7f3e1a52-0000-4000-8000-000000000002:sandbox-member-secret-0002"
EXPIRED_KEY = "ak_live:7f3e1a52-0000-4000-8000-000000000003:sandbox-expired-secret-0003"
ALICE_PERSONAL_TOKEN = "rgo-sandbox-alice-personal-token-0001"  # noqa: S105 - a published demo value

ALICE_ID = "11111111-1111-4111-8111-111111111111"
BOB_ID = "22222222-2222-4222-8222-222222222222"
CAROL_ID = "33333333-3333-4333-8333-333333333333"
MALLORY_ID = "99999999-9999-4999-8999-999999999999"

_FAR_FUTURE = datetime(2099, 12, 31, tzinfo=UTC)
_LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    company_id: str
    is_admin: bool
    email: str


@dataclass(frozen=True)
class ApiKey:
    token: str
    name: str
    kind: Literal["platform", "personal"]
    company_id: str
    may_act_for_others: bool
    expires_at: datetime | None
    owner_id: str | None = None

    @property
    def bucket_id(self) -> str:
        """The key without its secret: ``ak_live:<uuid>`` or the token's name."""
        if self.kind == "platform":
            return self.token.rsplit(":", 1)[0]
        return f"personal:{self.name}"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


USERS: tuple[User, ...] = (
    User(ALICE_ID, "Alice Admin", COMPANY_ID, is_admin=True, email="alice@acme-demo.example"),
    User(BOB_ID, "Bob Builder", COMPANY_ID, is_admin=False, email="bob@acme-demo.example"),
    User(CAROL_ID, "Carol Cook", COMPANY_ID, is_admin=False, email="carol@acme-demo.example"),
    User(MALLORY_ID, "Mallory", OTHER_COMPANY_ID, is_admin=False, email="mallory@other.example"),
)

KEYS: tuple[ApiKey, ...] = (
    ApiKey(ADMIN_KEY, "admin", "platform", COMPANY_ID, True, _FAR_FUTURE),
    ApiKey(MEMBER_KEY, "member", "platform", COMPANY_ID, False, _FAR_FUTURE),
    ApiKey(EXPIRED_KEY, "expired", "platform", COMPANY_ID, True, _LONG_AGO),
    ApiKey(ALICE_PERSONAL_TOKEN, "alice-personal", "personal", COMPANY_ID, False, None, ALICE_ID),
)

USERS_BY_ID = {user.id: user for user in USERS}
KEYS_BY_TOKEN = {key.token: key for key in KEYS}

# -- generated users (SANDBOX_USERS) ----------------------------------------------------------
# Load tests need hundreds of distinct meetergo users. They are derived from their number alone
# (uuid5 in a fixed namespace), so a benchmark can compute every id and connection it will meet.

GENERATED_NAMESPACE = uuid.UUID("5a4d0b0e-6d65-4574-8e67-6f73616e6478")
GENERATED_PROVIDERS: tuple[str, ...] = ("google", "outlook", "google")
"""Provider of a generated user's first, second and third connection."""
GENERATED_CONNECTED_AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def generated_user_id(number: int) -> str:
    """The id of generated user ``number`` (1-based)."""
    return str(uuid.uuid5(GENERATED_NAMESPACE, f"user-{number}"))


def generated_user(number: int) -> User:
    return User(
        generated_user_id(number),
        f"Load User {number:04d}",
        COMPANY_ID,
        is_admin=False,
        email=f"user{number:04d}@acme-demo.example",
    )


def generated_users(count: int) -> tuple[User, ...]:
    return tuple(generated_user(number) for number in range(1, count + 1))


@dataclass(frozen=True)
class SeededConnection:
    """A calendar connection that exists when the sandbox starts (generated users only)."""

    id: str
    user_id: str
    provider: str
    email: str
    created_at: datetime


def seeded_connections(number: int) -> tuple[SeededConnection, ...]:
    """Generated user ``number`` has 1, 2 or 3 connections (``1 + (number - 1) % 3``).

    Google, then Microsoft 365, then a second Google account; the first is the primary one. Each
    has the three calendars every new connection has (see ``providers.calendars_for``).
    """
    user_id = generated_user_id(number)
    connections = []
    for index in range(1 + (number - 1) % 3):
        provider = GENERATED_PROVIDERS[index]
        domain = "gmail.example" if provider == "google" else "outlook.example"
        connections.append(
            SeededConnection(
                id=str(uuid.uuid5(GENERATED_NAMESPACE, f"user-{number}/connection-{index}")),
                user_id=user_id,
                provider=provider,
                email=f"user{number:04d}.{index}@{domain}",
                created_at=GENERATED_CONNECTED_AT + timedelta(minutes=index),
            )
        )
    return tuple(connections)


def users_of(settings: SandboxSettings) -> dict[str, User]:
    """Every user this sandbox knows, by id: the fixed ones, then ``settings.users`` generated."""
    return {user.id: user for user in (*USERS, *generated_users(settings.users))}


def consent_url_base(settings: SandboxSettings) -> str:
    return f"{settings.public_url}/consent/"


def seed_document(settings: SandboxSettings) -> dict[str, object]:
    """The body of ``GET /_sandbox/seed``."""
    return {
        "company": {"id": COMPANY_ID, "name": COMPANY_NAME},
        "keys": [
            {
                "name": key.name,
                "kind": key.kind,
                "key": key.token,
                "mayUseUserId": key.may_act_for_others,
                "expiresAt": key.expires_at.isoformat() if key.expires_at else None,
                "ownerId": key.owner_id,
            }
            for key in KEYS
        ],
        "users": [
            _user_document(user)
            for user in (*USERS, *generated_users(settings.users))
            if user.company_id == COMPANY_ID
        ],
        "otherCompany": {
            "id": OTHER_COMPANY_ID,
            "name": OTHER_COMPANY_NAME,
            "users": [_user_document(u) for u in USERS if u.company_id == OTHER_COMPANY_ID],
        },
        "consentUrl": consent_url_base(settings),
        "consentProviders": list(CONSENT_PROVIDERS),
    }


def _user_document(user: User) -> dict[str, object]:
    return {"id": user.id, "name": user.name, "email": user.email, "isAdmin": user.is_admin}


def seed_summary(settings: SandboxSettings) -> str:
    """A human-readable account of the seed, printed when the sandbox starts."""
    lines = [
        f"meetergo sandbox on {settings.public_url}",
        f"company: {COMPANY_NAME} ({COMPANY_ID})",
        "keys:",
    ]
    for key in KEYS:
        lines.append(f"  {key.name:<15} {_kind_of(key):<46} {key.token}")
    lines.append("users:")
    for user in USERS:
        company = COMPANY_NAME if user.company_id == COMPANY_ID else OTHER_COMPANY_NAME
        role = "admin" if user.is_admin else "member"
        lines.append(f"  {user.id}  {user.name} ({role}, {company})")
    if settings.users:
        first, last = generated_user(1), generated_user(settings.users)
        lines.append(
            f"  plus {settings.users} generated users of {COMPANY_NAME}, 1-3 connections each: "
            f"{first.id} ({first.name}) ... {last.id} ({last.name}); "
            "GET /_sandbox/seed lists them"
        )
    lines.append(f"consent screens: {consent_url_base(settings)}{{{','.join(CONSENT_PROVIDERS)}}}")
    return "\n".join(lines)


def _kind_of(key: ApiKey) -> str:
    if key.kind == "personal":
        return "personal token (acts as its owner)"
    if key.is_expired(utc_now()):
        return "platform key, expired"
    return "platform key, may use userId" if key.may_act_for_others else "platform key, no userId"
