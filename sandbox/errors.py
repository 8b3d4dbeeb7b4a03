"""NestJS-shaped errors: one hierarchy, and the handlers that give every error that shape.

Body: ``{"statusCode": N, "message": ..., "error": "<reason phrase>"}``. Validation failures
come in the form the settings choose: class-validator's list of messages, or meetergo's reference
shape (``"message": "Validation failed"`` with ``"errors": [{"field", "message"}]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MessageForm = Literal["list", "string"]


def nest_body(status: int, message: object) -> dict[str, object]:
    return {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}


def default_message(status: int) -> str:
    """NestJS's own message for a bare exception of this status."""
    return "Internal server error" if status == 500 else HTTPStatus(status).phrase


class SandboxError(Exception):
    """An API error with its HTTP status; the message is what the client reads."""

    status_code = 500

    def __init__(self, message: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.message = message or default_message(self.status_code)
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self, form: MessageForm) -> dict[str, object]:
        del form  # only validation failures change shape with the form
        return nest_body(self.status_code, self.message)


class BadRequestError(SandboxError):
    status_code = 400


class UnauthorizedError(SandboxError):
    status_code = 401


class ForbiddenError(SandboxError):
    status_code = 403


class NotFoundError(SandboxError):
    status_code = 404


class TooManyRequestsError(SandboxError):
    status_code = 429


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ValidationFailedError(BadRequestError):
    """One or more fields of a request are wrong."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("Validation failed")

    def body(self, form: MessageForm) -> dict[str, object]:
        if form == "list":
            return nest_body(400, [error.message for error in self.errors])
        body = nest_body(400, "Validation failed")
        body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return body


def route_not_found_message(request: Request) -> str:
    """Express's wording for a route nobody serves: ``Cannot GET /path?query``."""
    target = request.url.path
    if request.url.query:
        target = f"{target}?{request.url.query}"
    return f"Cannot {request.method} {target}"


def _message_form(request: Request) -> MessageForm:
    form: MessageForm = request.app.state.sandbox.settings.validation_message_form
    return form


def install_error_handlers(app: FastAPI) -> None:
    """Give NestJS's shape to every error, FastAPI's own 404, 405 and 422 included."""

    @app.exception_handler(SandboxError)
    async def sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        return JSONResponse(
            exc.body(_message_form(request)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Express answers an unserved method on a known path exactly like an unknown path.
        if exc.status_code in (404, 405):
            return JSONResponse(nest_body(404, route_not_found_message(request)), status_code=404)
        message = exc.detail if isinstance(exc.detail, str) else default_message(exc.status_code)
        return JSONResponse(nest_body(exc.status_code, message), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for error in exc.errors():
            location = [str(part) for part in error["loc"]]
            field = ".".join(location[1:]) or location[0]
            errors.append(FieldError(field, f"{field}: {error['msg']}"))
        failure = ValidationFailedError(errors)
        return JSONResponse(failure.body(_message_form(request)), status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        del request, exc
        return JSONResponse(nest_body(500, default_message(500)), status_code=500)
