"""The operations documentation covers what an operator can meet."""

from __future__ import annotations

import re

from app.config import Settings, env_name
from app.docs_gen import ROOT
from app.errors import ErrorCode

OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")

# Codes an operator acts on (the rest are the client's business, documented in errors.md).
OPERATOR_CODES = {
    ErrorCode.UPSTREAM_UNAUTHORIZED,
    ErrorCode.UPSTREAM_RATE_LIMITED,
    ErrorCode.UPSTREAM_UNAVAILABLE,
    ErrorCode.UPSTREAM_TIMEOUT,
    ErrorCode.UPSTREAM_BAD_RESPONSE,
    ErrorCode.UPSTREAM_REJECTED,
    ErrorCode.USER_NOT_FOUND,
    ErrorCode.USER_NOT_MAPPED,
    ErrorCode.USER_MAPPING_UNAVAILABLE,
    ErrorCode.SHARED_STATE_UNAVAILABLE,
    ErrorCode.TICKET_INVALID,
    ErrorCode.TICKET_REPLAYED,
    ErrorCode.ORIGIN_NOT_ALLOWED,
    ErrorCode.CSRF_FAILED,
    ErrorCode.FLOW_MISMATCH,
    ErrorCode.SESSION_REVOKED,
    ErrorCode.INTERNAL_ERROR,
}


def test_runbook_has_a_row_for_every_operator_code() -> None:
    runbook = OPERATIONS.split("## Runbook", 1)[1]
    for code in OPERATOR_CODES:
        assert f"| `{code.value}` |" in runbook, code


def test_rotation_covers_every_key_setting() -> None:
    rotation = OPERATIONS.split("## Key rotation", 1)[1].split("## ", 1)[0]
    for variable in (
        "BFF_SESSION_KEYS",
        "BFF_TICKET_SECRET",
        "BFF_TICKET_PUBLIC_KEY",
        "BFF_MEETERGO_API_KEY",
    ):
        assert variable in rotation


def test_every_variable_named_in_the_docs_exists() -> None:
    known = {env_name(name) for name in Settings.model_fields}
    named = set(re.findall(r"\bBFF_[A-Z_]*[A-Z]\b", OPERATIONS))
    assert named <= known, named - known
