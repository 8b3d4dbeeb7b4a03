"""The providers meetergo names, the two with a consent screen here, and their calendars."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

PROVIDER_ENUM: tuple[str, ...] = (
    "google",
    "outlook",
    "icloud",
    "caldav",
    "exchange",
    "smart-we",
    "ics",
)
"""meetergo's provider enum, as its reference lists it."""

CONSENT_PROVIDERS: tuple[str, ...] = ("google", "outlook")
"""The providers for which the sandbox runs a consent screen."""


@dataclass(frozen=True)
class CalendarTemplate:
    id: str
    name: str
    is_account_primary: bool
    can_edit: bool


def calendars_for(provider: str, email: str) -> list[CalendarTemplate]:
    """The three calendars of a new account: its primary, an editable ``Work``, a read-only one."""
    if provider == "google":
        local = hashlib.sha256(email.lower().encode()).hexdigest()[:24]
        return [
            CalendarTemplate("primary", "Calendar", is_account_primary=True, can_edit=True),
            CalendarTemplate(f"{local}@group.calendar.google.com", "Work", False, can_edit=True),
            CalendarTemplate(
                "en.german#holiday@group.v.calendar.google.com", "Holidays", False, can_edit=False
            ),
        ]
    return [
        CalendarTemplate(_graph_id(email, "Calendar"), "Calendar", True, can_edit=True),
        CalendarTemplate(_graph_id(email, "Work"), "Work", False, can_edit=True),
        CalendarTemplate(_graph_id(email, "Holidays"), "Holidays", False, can_edit=False),
    ]


def _graph_id(email: str, name: str) -> str:
    """An opaque id shaped like Microsoft Graph's (``AAMkA...=``), stable for an account."""
    digest = hashlib.sha256(f"{email.lower()}/{name}".encode()).digest()
    return "AAMkA" + base64.urlsafe_b64encode(digest + digest[:6]).decode()
