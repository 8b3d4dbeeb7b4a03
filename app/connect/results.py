"""Reading meetergo's redirect back after consent, in each variant it has been seen to send.

- current: ``?success=true&provider=google&connectionId=abc-123`` and
  ``?error=true&provider=google&message=Connection%2520already%2520exists`` (the message is
  percent-encoded twice);
- older: ``?provider=google&connection_id=abc-123&success=true`` and
  ``?provider=google&error=access_denied&success=false``.

Nothing from the query is trusted beyond what is validated here: the connection id must match the
allowlist's pattern, the message only selects one of our error codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from app.errors import ErrorCode
from app.upstream.table import CONNECTION_ID

# meetergo's documented messages (and the OAuth error codes it passes on), to our codes.
MESSAGE_CODES: dict[str, ErrorCode] = {
    "connection already exists": ErrorCode.CONNECTION_ALREADY_EXISTS,
    "access_denied": ErrorCode.ACCESS_DENIED,
    "invalid_scope": ErrorCode.INVALID_SCOPE,
    "server_error": ErrorCode.SERVER_ERROR,
    "user_not_found": ErrorCode.USER_NOT_FOUND,
    "user not found": ErrorCode.USER_NOT_FOUND,
}
_MAX_DECODE_ROUNDS = 4


@dataclass(frozen=True)
class ConsentOutcome:
    success: bool
    connection_id: str | None
    code: ErrorCode | None


def decode_until_stable(text: str) -> str:
    """Undo meetergo's double (or any repeated) percent-encoding."""
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def message_code(message: str | None) -> ErrorCode:
    if not message:
        return ErrorCode.CONNECT_FAILED
    return MESSAGE_CODES.get(decode_until_stable(message).strip().lower(), ErrorCode.CONNECT_FAILED)


def read_outcome(query: Mapping[str, str]) -> ConsentOutcome:
    """The outcome meetergo reported, whichever variant it used."""
    success = query.get("success") == "true"
    error = query.get("error")
    if success and error in (None, "", "false"):
        connection_id = query.get("connectionId") or query.get("connection_id")
        if connection_id is None or not CONNECTION_ID.match(connection_id):
            return ConsentOutcome(False, None, ErrorCode.CONNECT_FAILED)
        return ConsentOutcome(True, connection_id, None)
    if error == "true":  # current variant: the reason is in `message`
        return ConsentOutcome(False, None, message_code(query.get("message")))
    if error:  # older variant: the reason is the value of `error`
        return ConsentOutcome(False, None, message_code(error))
    return ConsentOutcome(False, None, ErrorCode.CONNECT_FAILED)
