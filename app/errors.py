"""Every error the service answers, and the one place that turns errors into HTTP.

All errors leave the service as RFC 9457 ``application/problem+json`` with a stable ``code`` and
the ``requestId``. The catalogue below is the single source for the status, the title and the
advice to the SPA; ``docs/errors.md`` is generated from it and a test keeps the two in sync.

Exception tree::

    ProblemError          an answer with a catalogued code (raise it anywhere in a request)

Framework errors (unknown route, wrong method, request validation) and unexpected exceptions are
translated here too, so no stack trace, secret or raw input ever reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from app.ops.request_id import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:meetergo-bff:problem:"


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    VALIDATION_ERROR = "validation_error"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class ProblemSpec:
    status: int
    title: str
    meaning: str
    advice: str


CATALOG: Mapping[ErrorCode, ProblemSpec] = {
    ErrorCode.NOT_FOUND: ProblemSpec(
        404,
        "Not found",
        "No such route, or the resource does not exist for this user.",
        "Refresh the list you took the id from.",
    ),
    ErrorCode.METHOD_NOT_ALLOWED: ProblemSpec(
        405,
        "Method not allowed",
        "The route exists but not with this method (or an operator switched it off).",
        "A programming error in the SPA: check the method.",
    ),
    ErrorCode.VALIDATION_ERROR: ProblemSpec(
        422,
        "Invalid request",
        "A path parameter, query parameter or body failed validation; `errors` says where.",
        "A programming error or bad user input: fix the request, do not retry it unchanged.",
    ),
    ErrorCode.INTERNAL_ERROR: ProblemSpec(
        500,
        "Internal error",
        "An unexpected failure inside the service; the operator's log has the request id.",
        "Show a generic error with the request id; retrying later may help.",
    ),
}


class ProblemError(Exception):
    """An error answer with a catalogued code. ``detail`` is shown to the user: keep it safe."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.spec = CATALOG[code]
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(f"{code}: {detail or self.spec.title}")


def problem_response(
    code: ErrorCode,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    """The problem+json answer for ``code``. ``request_id`` defaults to the current request's."""
    spec = CATALOG[code]
    request_id = request_id or current_request_id()
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_PREFIX}{code.value}",
        "title": spec.title,
        "status": spec.status,
        "code": code.value,
    }
    if detail:
        body["detail"] = detail
    body.update(extra or {})
    body["requestId"] = request_id
    response_headers = {"Cache-Control": "no-store", **(headers or {})}
    if request_id:
        response_headers["X-Request-ID"] = request_id
    return JSONResponse(
        body, status_code=spec.status, headers=response_headers, media_type=PROBLEM_JSON
    )


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)  # noqa: S101 - registered for this type only
    return problem_response(exc.code, exc.detail, headers=exc.headers, extra=exc.extra)


async def _on_http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    if exc.status_code == 405:
        return problem_response(ErrorCode.METHOD_NOT_ALLOWED, headers=exc.headers)
    if exc.status_code == 404:
        return problem_response(ErrorCode.NOT_FOUND)
    # Other framework HTTP errors are not expected; never echo their detail text.
    logger.error("unexpected framework HTTP error %s", exc.status_code)
    return problem_response(ErrorCode.INTERNAL_ERROR)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    # Report where and what, never the rejected input (it may be a secret or hostile text).
    errors = [
        {
            "location": ".".join(str(part) for part in error.get("loc", ())),
            "message": error.get("msg", ""),
        }
        for error in exc.errors()
    ]
    return problem_response(ErrorCode.VALIDATION_ERROR, extra={"errors": errors})


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette runs this handler outside every middleware, after the request-id middleware has
    # finished: take the id from the request's state, which that middleware filled in.
    request_id = getattr(request.state, "request_id", None)
    logger.error("unhandled error (request %s)", request_id, exc_info=exc)
    return problem_response(ErrorCode.INTERNAL_ERROR, request_id=request_id)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
