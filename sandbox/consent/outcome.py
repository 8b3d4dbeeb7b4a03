"""How meetergo reports a flow's result to the app: query parameters on ``redirectUrl``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

ResultParams = Literal["current", "legacy"]
RedirectQuery = Literal["keep", "drop"]

CONNECTION_EXISTS = "Connection already exists"
ACCESS_DENIED = "access_denied"
INVALID_SCOPE = "invalid_scope"
SERVER_ERROR = "server_error"


@dataclass(frozen=True)
class Outcome:
    provider: str
    connection_id: str | None = None
    error: str | None = None


def result_query(outcome: Outcome, form: ResultParams) -> str:
    """The result parameters; an error message is percent-encoded twice, as meetergo does."""
    if outcome.error is None:
        connection_id = outcome.connection_id or ""
        if form == "current":
            pairs = [("success", "true"), ("provider", outcome.provider)]
            pairs.append(("connectionId", connection_id))
        else:
            pairs = [("provider", outcome.provider), ("connection_id", connection_id)]
            pairs.append(("success", "true"))
    else:
        once = quote(outcome.error, safe="")
        if form == "current":
            pairs = [("error", "true"), ("provider", outcome.provider), ("message", once)]
        else:
            pairs = [("provider", outcome.provider), ("error", once), ("success", "false")]
    return urlencode(pairs)


def redirect_target(redirect_url: str, query: str, mode: RedirectQuery) -> str:
    """``redirectUrl`` with the result appended to its own query (keep) or replacing it (drop)."""
    parts = urlsplit(redirect_url)
    combined = f"{parts.query}&{query}" if mode == "keep" and parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, combined, parts.fragment))
