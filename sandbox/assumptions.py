"""Where meetergo's documentation is silent, the sandbox assumes; every such guess lives here.

The numbered ones are the list at the end of ``docs/sandbox.md`` (each is marked
``x-open-question`` in ``openapi/meetergo-calendar-connections.yaml``). The rest are smaller choices
of the sandbox that the spec leaves open. Change a value here when the real API answers otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, TypeVar
from urllib.parse import urlsplit

_T = TypeVar("_T")

# 1. Unknown PATCH fields are refused with 400, as NestJS's ValidationPipe(forbidNonWhitelisted).
REFUSE_UNKNOWN_PATCH_FIELDS: Final = True

# 2. primaryCalendar must name a calendar of the connection that the account may edit.
PRIMARY_CALENDAR_MUST_BE_EDITABLE: Final = True


# 3. A new connection is primary when the user has none; setAsCalendarSync is recorded only then.
def new_connection_role(*, user_has_primary: bool, set_as_calendar_sync: bool) -> tuple[bool, bool]:
    """``(is_primary, calendar_sync_recorded)`` for a connection that is being created."""
    is_primary = not user_has_primary
    return is_primary, is_primary and set_as_calendar_sync


# 4. Deleting the primary connection promotes the oldest remaining one.
def successor_of_deleted_primary(remaining_oldest_first: Sequence[_T]) -> _T | None:
    return remaining_oldest_first[0] if remaining_oldest_first else None


# 5. set-primary and PATCH answer with this status and the updated connection as the body.
UPDATE_ANSWER_STATUS: Final = 200


# 6. The rate limit counts authenticated requests only (a known, unexpired key), one bucket a key.
def rate_limit_bucket(key_id: str) -> str:
    return key_id


# 7. redirectUrl must be an absolute http(s) URL.
def is_acceptable_redirect_url(url: str) -> bool:
    if any(char.isspace() or ord(char) < 0x20 for char in url):
        return False
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(hostname)


# 8. A connection id of another user answers 404, not 403, so ids cannot be probed.
FOREIGN_CONNECTION_STATUS: Final[Literal[403, 404]] = 404


# --- Smaller choices the spec leaves open ----------------------------------------------------

# The message of the 403 for acting beyond a key's rights (meetergo documents only "403").
FORBIDDEN_MESSAGE: Final = "Insufficient permissions"

# setAsCalendarSync must be the string true or false (class-validator's IsBooleanString).
SET_AS_CALENDAR_SYNC_VALUES: Final = ("true", "false")

# PATCH fields sent as null are skipped, as class-validator's IsOptional skips null.
PATCH_NULL_MEANS_ABSENT: Final = True

# An unrecognised error from the provider reaches the app as server_error.
FALLBACK_PROVIDER_ERROR: Final = "server_error"


# 9. Connecting an account that is already connected but whose credentials were lost
#    (isConnected false) refreshes that connection and reports success with its id; an account
#    that is still connected answers "Connection already exists".
RECONNECT_RESTORES_EXISTING_CONNECTION: Final = True
