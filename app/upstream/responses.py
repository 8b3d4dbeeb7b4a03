"""meetergo's answer, turned into ours: successes pass through, errors become problem+json."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from starlette.responses import Response

from app.errors import ErrorCode, ProblemError
from app.upstream.call import UpstreamCall, UpstreamResult
from app.upstream.retry_after import retry_after_seconds

logger = logging.getLogger(__name__)

CACHE_NAME = "meetergo-bff"  # this service's name in Cache-Status (RFC 9211)

DEFAULT_RATE_LIMIT_RETRY_AFTER = "60"  # meetergo documents no Retry-After; its window is a minute
_MAX_MESSAGES = 20
# Every code problem_for() (below) and the sender can turn meetergo's answer into.
UPSTREAM_PROBLEMS = (
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.UPSTREAM_UNAUTHORIZED,
    ErrorCode.USER_NOT_FOUND,
    ErrorCode.NOT_FOUND,
    ErrorCode.LIMIT_REACHED,
    ErrorCode.CONNECTION_ALREADY_EXISTS,
    ErrorCode.UPSTREAM_RATE_LIMITED,
    ErrorCode.RATE_LIMITED,  # the budget's per-user share (app/quota)
    ErrorCode.UPSTREAM_UNAVAILABLE,
    ErrorCode.UPSTREAM_REJECTED,
    ErrorCode.UPSTREAM_BAD_RESPONSE,
    ErrorCode.UPSTREAM_TIMEOUT,
)
_MAX_MESSAGE_CHARS = 300


def to_response(call: UpstreamCall, result: UpstreamResult) -> Response:
    """The browser's answer for ``result``; raises ProblemError for every upstream error."""
    if 200 <= result.status < 300:
        return _success(call, result)
    raise problem_for(call, result)


def _success(call: UpstreamCall, result: UpstreamResult) -> Response:
    headers = {"Cache-Control": "no-store"}
    if result.cache_status is not None:
        headers["Cache-Status"] = f"{CACHE_NAME}; {result.cache_status}"
    if result.age is not None:
        headers["Age"] = str(result.age)
    if result.status == 204 or not result.body:
        if call.route.is_read and result.status != 204:
            # Every read answers a JSON document; an empty one is not an answer.
            logger.error(
                "meetergo %s answered %s with no body", call.route.operation_id, result.status
            )
            raise ProblemError(ErrorCode.UPSTREAM_BAD_RESPONSE)
        return Response(status_code=result.status, headers=headers)
    try:
        if not result.json_checked:  # the cache stage parsed it already, once
            json.loads(result.body)
    except ValueError:
        logger.error(
            "meetergo %s answered %s with a body that is not JSON",
            call.route.operation_id,
            result.status,
        )
        raise ProblemError(ErrorCode.UPSTREAM_BAD_RESPONSE) from None
    # Byte for byte: the SPA reads exactly what meetergo sent, unknown fields included.
    return Response(
        result.body, status_code=result.status, headers=headers, media_type="application/json"
    )


# What of meetergo's error text may reach the browser: field names as meetergo's documented
# ``errors[].field`` has them, and messages made only of words and plain punctuation. Anything
# else (a URL, a header value, a token, markup) is withheld: a gateway in front of meetergo that
# quotes the request would otherwise hand the browser what the service sent, the key included.
_SAFE_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_.\[\]]{0,63}")
_SAFE_MESSAGE = re.compile(rf"[A-Za-z0-9 ,.:;'()_\-]{{1,{_MAX_MESSAGE_CHARS}}}")
# A colon only as punctuation ("one of: a, b"), never inside a word ("ak_live:...", "https:").
_COLON_IN_WORD = re.compile(r":\S")
_LONGEST_WORD = 40  # a UUID is 36; base64 tokens and keys are longer
WITHHELD = "meetergo's message was withheld"


def _safe_message(text: str) -> str | None:
    if not _SAFE_MESSAGE.fullmatch(text) or _COLON_IN_WORD.search(text):
        return None
    if any(len(word) > _LONGEST_WORD for word in text.split()):
        return None
    return text


def _upstream_errors(body: bytes) -> list[dict[str, str]]:
    """meetergo's validation messages as ``errors`` entries, only the parts known to be safe.

    NestJS bodies come as ``message`` (a string or a list of strings) and, in meetergo's documented
    form, ``errors: [{field, message}]``. A message that fails the check is replaced by a fixed
    text, so the SPA still learns which field was refused.
    """
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    found: list[tuple[str | None, object]] = []
    message = parsed.get("message")
    for item in message if isinstance(message, list) else [message]:
        found.append((None, item))
    errors = parsed.get("errors")
    if isinstance(errors, list):
        found += [(e.get("field"), e.get("message")) for e in errors if isinstance(e, dict)]
    entries: list[dict[str, str]] = []
    for field, text in found[:_MAX_MESSAGES]:
        safe_field = field if isinstance(field, str) and _SAFE_FIELD.fullmatch(field) else None
        safe_text = _safe_message(text) if isinstance(text, str) else None
        if safe_text is None and safe_field is None:
            continue
        entry = {"location": "upstream", "message": safe_text or WITHHELD}
        if safe_field:
            entry["field"] = safe_field
        entries.append(entry)
    return entries


def _messages(body: bytes) -> list[str]:
    """The safe messages alone, for the checks and the operator's log."""
    return [e["message"] for e in _upstream_errors(body) if e["message"] != WITHHELD]


def problem_for(call: UpstreamCall, result: UpstreamResult) -> ProblemError:  # noqa: PLR0911 - one table
    status, operation = result.status, call.route.operation_id
    messages = _messages(result.body)
    said = "; ".join(messages).lower()
    if status == 400:
        errors = _upstream_errors(result.body)
        return ProblemError(
            ErrorCode.VALIDATION_ERROR, "meetergo refused the values.", extra={"errors": errors}
        )
    if status in (401, 403):
        # The operator must act (replace or widen the key); the browser learns only that it failed.
        # A 401 is an error log once, from the credentials' state (app/upstream/credentials.py),
        # not once per call: each call adds only a warning.
        log = logger.warning if status == 401 else logger.error
        log(
            "meetergo refused the API key on %s: %s %s",
            operation,
            status,
            "; ".join(messages) or "(no message)",
        )
        return ProblemError(ErrorCode.UPSTREAM_UNAUTHORIZED)
    if status == 404:
        if "user not found" in said:
            logger.error("meetergo does not know the mapped user (%s)", call.app_user_hash)
            return ProblemError(ErrorCode.USER_NOT_FOUND)
        return ProblemError(ErrorCode.NOT_FOUND)
    if status == 406:
        return ProblemError(ErrorCode.LIMIT_REACHED)
    if status == 409 and "already exists" in said:
        return ProblemError(ErrorCode.CONNECTION_ALREADY_EXISTS)
    if status == 429:
        seconds = retry_after_seconds(result.retry_after)
        retry_after = str(seconds) if seconds is not None else None
        logger.warning("meetergo rate-limited %s", operation)
        return ProblemError(
            ErrorCode.UPSTREAM_RATE_LIMITED,
            headers={"Retry-After": retry_after or DEFAULT_RATE_LIMIT_RETRY_AFTER},
        )
    if status >= 500:
        logger.warning(
            "meetergo %s answered %s after %d attempt(s)", operation, status, result.attempts
        )
        return ProblemError(ErrorCode.UPSTREAM_UNAVAILABLE, headers={"Retry-After": "5"})
    logger.error(
        "meetergo %s answered an unexpected %s: %s",
        operation,
        status,
        "; ".join(messages) or "(no message)",
    )
    return ProblemError(ErrorCode.UPSTREAM_REJECTED)
