"""meetergo's answer, turned into ours: successes pass through, errors become problem+json."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from starlette.responses import Response

from app.errors import ErrorCode, ProblemError
from app.upstream.call import UpstreamCall, UpstreamResult

logger = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT_RETRY_AFTER = "60"  # meetergo documents no Retry-After; its window is a minute
# Delta-seconds (RFC 9110): ASCII digits only. str.isdigit() also accepts "²" or "١٢", which
# cannot even be written into a latin-1 header and ended in a 500.
_DELTA_SECONDS = re.compile(r"[0-9]+")
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
    if result.status == 204 or not result.body:
        if call.route.is_read and result.status != 204:
            # Every read answers a JSON document; an empty one is not an answer.
            logger.error(
                "meetergo %s answered %s with no body", call.route.operation_id, result.status
            )
            raise ProblemError(ErrorCode.UPSTREAM_BAD_RESPONSE)
        return Response(status_code=result.status, headers=headers)
    try:
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


def _messages(body: bytes) -> list[str]:
    """The ``message`` of a NestJS error body, as a list, whatever its form."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    message = parsed.get("message")
    items = message if isinstance(message, list) else [message]
    texts = [item for item in items if isinstance(item, str)]
    errors = parsed.get("errors")
    if isinstance(errors, list):
        texts += [
            e["message"]
            for e in errors
            if isinstance(e, dict) and isinstance(e.get("message"), str)
        ]
    return [text[:_MAX_MESSAGE_CHARS] for text in texts[:_MAX_MESSAGES]]


def problem_for(call: UpstreamCall, result: UpstreamResult) -> ProblemError:  # noqa: PLR0911 - one table
    status, operation = result.status, call.route.operation_id
    messages = _messages(result.body)
    said = "; ".join(messages).lower()
    if status == 400:
        errors = [{"location": "upstream", "message": text} for text in messages]
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
        upstream_retry_after = result.retry_after or ""
        retry_after = (
            upstream_retry_after if _DELTA_SECONDS.fullmatch(upstream_retry_after) else None
        )
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
