"""Identifiers: session ids, and the hashed user id used in logs and shared-state keys."""

from __future__ import annotations

import hashlib
import secrets

SESSION_ID_BYTES = 16  # 128 bits from the OS's CSPRNG, as OWASP's session cheat sheet asks


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def user_hash(app_user_id: str) -> str:
    """A stable, non-reversible stand-in for a user id in logs, metrics and store keys."""
    return hashlib.sha256(b"mbff-user:" + app_user_id.encode()).hexdigest()[:24]
