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
from contextvars import ContextVar, Token
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from app.ops.request_id import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# nginx's status for a request whose client went away before the answer; nobody receives it, the
# access log and the metrics record it.
CLIENT_CLOSED_REQUEST = 499
_problem_code: ContextVar[str | None] = ContextVar("problem_code", default=None)


def reset_problem_code() -> Token[str | None]:
    """Start a request with no problem recorded; the token ends it."""
    return _problem_code.set(None)


def last_problem_code(token: Token[str | None]) -> str | None:
    """The code of the problem this request answered with, if any; then forget it."""
    code = _problem_code.get()
    _problem_code.reset(token)
    return code


PROBLEM_TYPE_PREFIX = "urn:meetergo-bff:problem:"


class ErrorCode(StrEnum):
    # requests
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    VALIDATION_ERROR = "validation_error"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    LENGTH_REQUIRED = "length_required"
    INVALID_PATH = "invalid_path"
    MALFORMED_REQUEST = "malformed_request"
    REQUEST_HEADERS_TOO_LARGE = "request_headers_too_large"
    REQUEST_TIMEOUT = "request_timeout"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    # CSRF and origins
    CSRF_FAILED = "csrf_failed"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    # sessions and login tickets
    UNAUTHENTICATED = "unauthenticated"
    SESSION_EXPIRED = "session_expired"
    SESSION_REVOKED = "session_revoked"
    TICKET_INVALID = "ticket_invalid"
    TICKET_EXPIRED = "ticket_expired"
    TICKET_REPLAYED = "ticket_replayed"
    # user mapping
    USER_NOT_MAPPED = "user_not_mapped"
    USER_MAPPING_UNAVAILABLE = "user_mapping_unavailable"
    # the calendar proxy and meetergo
    INVALID_REDIRECT = "invalid_redirect"
    ROUTE_DISABLED = "route_disabled"
    USER_NOT_FOUND = "user_not_found"
    CONNECTION_ALREADY_EXISTS = "connection_already_exists"
    ACCESS_DENIED = "access_denied"
    INVALID_SCOPE = "invalid_scope"
    SERVER_ERROR = "server_error"
    LIMIT_REACHED = "limit_reached"
    UPSTREAM_REJECTED = "upstream_rejected"
    UPSTREAM_UNAUTHORIZED = "upstream_unauthorized"
    UPSTREAM_RATE_LIMITED = "upstream_rate_limited"
    RATE_LIMITED = "rate_limited"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    UPSTREAM_BAD_RESPONSE = "upstream_bad_response"
    # the connect flow
    FLOW_MISMATCH = "flow_mismatch"
    FLOW_EXPIRED = "flow_expired"
    CONNECT_FAILED = "connect_failed"
    # the service itself
    SHARED_STATE_UNAVAILABLE = "shared_state_unavailable"
    OVERLOADED = "overloaded"
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
        "The route exists but not with this method.",
        "A programming error in the SPA: check the method.",
    ),
    ErrorCode.VALIDATION_ERROR: ProblemSpec(
        422,
        "Invalid request",
        "A path parameter, query parameter or body failed validation; `errors` says where.",
        "A programming error or bad user input: fix the request, do not retry it unchanged.",
    ),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: ProblemSpec(
        415,
        "Unsupported media type",
        "A request body that is not `application/json`.",
        "A programming error: send JSON with `Content-Type: application/json`.",
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: ProblemSpec(
        413,
        "Request body too large",
        "The body is larger than the service accepts for any call.",
        "A programming error: calendar calls need only a few hundred bytes.",
    ),
    ErrorCode.LENGTH_REQUIRED: ProblemSpec(
        411,
        "Length required",
        "A body sent without `Content-Length` (chunked); browsers' fetch always sends one.",
        "Send the body with a known length.",
    ),
    ErrorCode.INVALID_PATH: ProblemSpec(
        400,
        "Invalid path",
        "The request path contains an encoded slash (`%2F`), an encoded backslash (`%5C`) or an "
        "encoded dot segment (`%2E`, `%2E%2E`); such a path is refused before routing.",
        "A programming error or a probe: put ids in the path only as they are, never encoded "
        "separators. Operator revocation of ids with `/` uses the JSON body form.",
    ),
    ErrorCode.MALFORMED_REQUEST: ProblemSpec(
        400,
        "Malformed request",
        "The HTTP server could not parse the request (request line, headers or framing).",
        "A client bug or a probe; browsers never send this.",
    ),
    ErrorCode.REQUEST_HEADERS_TOO_LARGE: ProblemSpec(
        431,
        "Request headers too large",
        "The request line and headers exceed the server's size or count limit "
        "(`BFF_MAX_HEADER_BYTES`, `BFF_MAX_HEADER_COUNT`); usually an overgrown cookie.",
        "Clear the site's cookies; a normal request needs a few hundred bytes of headers.",
    ),
    ErrorCode.REQUEST_TIMEOUT: ProblemSpec(
        408,
        "Request timeout",
        "The client did not send the request's headers within `BFF_HEADER_TIMEOUT` seconds "
        "(a body that stalls past `BFF_BODY_TIMEOUT` closes the connection instead).",
        "Retry on a working connection.",
    ),
    ErrorCode.TOO_MANY_CONNECTIONS: ProblemSpec(
        503,
        "Too many connections",
        "This replica already holds `BFF_MAX_CONNECTIONS` open connections; the new one is "
        "answered and closed at once.",
        "Retry after `Retry-After` seconds.",
    ),
    ErrorCode.CSRF_FAILED: ProblemSpec(
        403,
        "CSRF check failed",
        "The `X-CSRF: 1` header is missing on an `/api` or `/auth` call.",
        "Use the JS client, or add the header to every call; never retry without it.",
    ),
    ErrorCode.ORIGIN_NOT_ALLOWED: ProblemSpec(
        403,
        "Origin not allowed",
        "A state-changing call whose `Origin` (or `Referer`) is not a configured app origin, "
        "or that the browser marked `Sec-Fetch-Site: cross-site`, or that carries neither header.",
        "Call from a configured app origin; an operator adds origins to `BFF_APP_ORIGINS`.",
    ),
    ErrorCode.UNAUTHENTICATED: ProblemSpec(
        401,
        "Not signed in",
        "No session cookie, or one whose signature does not verify (tampered, or signed with a "
        "key that was removed).",
        "Start a session: get a fresh login ticket from the app's backend, POST /auth/session.",
    ),
    ErrorCode.SESSION_EXPIRED: ProblemSpec(
        401,
        "Session expired",
        "The session passed its idle or absolute timeout.",
        "Start a new session with a fresh login ticket.",
    ),
    ErrorCode.SESSION_REVOKED: ProblemSpec(
        401,
        "Session revoked",
        "The session was ended by logout or by an operator, or the service's shared state was "
        "lost or reset since it began (then every session ends, to be safe).",
        "Start a new session with a fresh login ticket.",
    ),
    ErrorCode.TICKET_INVALID: ProblemSpec(
        401,
        "Login ticket invalid",
        "The ticket's signature, algorithm, audience, issuer, lifetime or claims are not "
        "acceptable; the operator log says which.",
        "A configuration or minting error in the app's backend; retrying will not help.",
    ),
    ErrorCode.TICKET_EXPIRED: ProblemSpec(
        401,
        "Login ticket expired",
        "The ticket's `exp` has passed, or it was issued before the service's shared state was "
        "last lost or reset (its use could no longer be checked).",
        "Ask the app's backend for a fresh ticket and post it at once.",
    ),
    ErrorCode.TICKET_REPLAYED: ProblemSpec(
        401,
        "Login ticket already used",
        "Each ticket starts one session; this one was used before.",
        "Ask the app's backend for a fresh ticket for each login.",
    ),
    ErrorCode.USER_NOT_MAPPED: ProblemSpec(
        403,
        "No meetergo user for this account",
        "The signed-in user has no meetergo user id, so calendar calls cannot be made.",
        "Tell the user calendar connection is not available for their account yet; the app's "
        "operator adds the mapping.",
    ),
    ErrorCode.USER_MAPPING_UNAVAILABLE: ProblemSpec(
        503,
        "User mapping unavailable",
        "The app's user-mapping endpoint failed or timed out.",
        "Retry after `Retry-After` seconds.",
    ),
    ErrorCode.INVALID_REDIRECT: ProblemSpec(
        422,
        "Redirect not allowed",
        "A `redirectUrl` (or `returnTo`) whose origin is not a configured app origin.",
        "A programming or configuration error: return only to the app's own origins.",
    ),
    ErrorCode.ROUTE_DISABLED: ProblemSpec(
        404,
        "Not available",
        "The operator switched this calendar call off (`BFF_DISABLED_ROUTES`).",
        "Hide the feature; the call will not work in this deployment.",
    ),
    ErrorCode.USER_NOT_FOUND: ProblemSpec(
        404,
        "meetergo user not found",
        "meetergo does not know the meetergo user id this user is mapped to.",
        "Tell the user calendars are not available for their account; the operator fixes "
        "the mapping.",
    ),
    ErrorCode.CONNECTION_ALREADY_EXISTS: ProblemSpec(
        409,
        "Calendar already connected",
        "The user connected this calendar account before.",
        "Say the account is already connected; refresh the list.",
    ),
    ErrorCode.ACCESS_DENIED: ProblemSpec(
        403,
        "Access denied at the provider",
        "The user declined the calendar permission on the provider's consent screen.",
        "Explain why calendar access is needed and offer to try again.",
    ),
    ErrorCode.INVALID_SCOPE: ProblemSpec(
        400,
        "Calendar permission missing",
        "The user granted the sign-in but not the calendar permission.",
        "Ask the user to connect again and keep the calendar permission ticked.",
    ),
    ErrorCode.SERVER_ERROR: ProblemSpec(
        502,
        "Provider error",
        "Google, Microsoft or meetergo failed while connecting the calendar.",
        "Offer a retry after a few seconds.",
    ),
    ErrorCode.LIMIT_REACHED: ProblemSpec(
        409,
        "Limit reached",
        "meetergo refused the call because an account limit is reached (its status 406).",
        "Tell the user; the company's meetergo plan decides the limit.",
    ),
    ErrorCode.UPSTREAM_REJECTED: ProblemSpec(
        502,
        "meetergo refused the call",
        "meetergo answered with an error the service does not expect; the operator log has it.",
        "Show a generic error with the request id.",
    ),
    ErrorCode.UPSTREAM_UNAUTHORIZED: ProblemSpec(
        502,
        "Calendar service misconfigured",
        "meetergo refused the service's API key (missing, invalid, expired or lacking "
        "permission); the operator is alerted by an error log.",
        "Show a generic error; retrying will not help until the operator replaces the key.",
    ),
    ErrorCode.UPSTREAM_RATE_LIMITED: ProblemSpec(
        429,
        "Calendar service busy",
        "The company's share of meetergo's rate limit is spent for the moment (all its users "
        "share it), and nothing cached could answer instead.",
        "Retry after `Retry-After` seconds: it is when a call of this kind can go again.",
    ),
    ErrorCode.RATE_LIMITED: ProblemSpec(
        429,
        "Too many calendar calls",
        "This user caused more calls to meetergo in the last minute than one user's share "
        "allows; cached answers do not count.",
        "Retry after `Retry-After` seconds; avoid reloading in a loop.",
    ),
    ErrorCode.UPSTREAM_TIMEOUT: ProblemSpec(
        504,
        "meetergo did not answer in time",
        "The call passed its deadline (retries included).",
        "Offer a retry; a write may or may not have been applied, so refresh before repeating it.",
    ),
    ErrorCode.UPSTREAM_UNAVAILABLE: ProblemSpec(
        502,
        "meetergo unavailable",
        "meetergo could not be reached or answered 5xx (reads were retried).",
        "Offer a retry after a few seconds.",
    ),
    ErrorCode.UPSTREAM_BAD_RESPONSE: ProblemSpec(
        502,
        "Malformed answer from meetergo",
        "meetergo's answer was not the JSON expected.",
        "Offer a retry; report the request id if it persists.",
    ),
    ErrorCode.FLOW_MISMATCH: ProblemSpec(
        403,
        "Connection attempt not from this browser",
        "The consent result arrived in a browser (or session) that did not start this flow, or "
        "after such a callback had already decided it: possibly a forged link. No success is "
        "reported. A connection that this flow created (absent when the flow started) is "
        "removed, and the removal is retried until meetergo confirms it; a connection that "
        "existed before the flow is never touched.",
        "Start the connection again from the app.",
    ),
    ErrorCode.FLOW_EXPIRED: ProblemSpec(
        400,
        "Connection attempt expired",
        "The flow is older than ten minutes, its link is not one this service issued, or the "
        "shared state no longer holds it.",
        "Start the connection again from the app.",
    ),
    ErrorCode.CONNECT_FAILED: ProblemSpec(
        502,
        "Connection failed",
        "meetergo reported a failure the service does not know, or the new connection could "
        "not be found afterwards.",
        "Offer a retry; refresh the list of connections first.",
    ),
    ErrorCode.SHARED_STATE_UNAVAILABLE: ProblemSpec(
        503,
        "Service temporarily unavailable",
        "The shared state (Redis) did not answer, so sessions, login tickets and connect flows "
        "cannot be checked safely.",
        "Retry after `Retry-After` seconds.",
    ),
    ErrorCode.OVERLOADED: ProblemSpec(
        503,
        "Service busy",
        "This replica already has as many requests in progress as it takes "
        "(`BFF_MAX_IN_FLIGHT`), or is short of CPU (`BFF_MAX_LOOP_LAG`); it refused this one at "
        "once instead of queueing it.",
        "Retry after `Retry-After` seconds; nothing was done.",
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
    _problem_code.set(code.value)
    request_id = request_id or current_request_id()
    body = problem_document(code, detail, extra=extra, request_id=request_id)
    response_headers = {"Cache-Control": "no-store", **(headers or {})}
    if request_id:
        response_headers["X-Request-ID"] = request_id
    return JSONResponse(
        body, status_code=spec.status, headers=response_headers, media_type=PROBLEM_JSON
    )


def problem_document(
    code: ErrorCode,
    detail: str | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The problem+json document for ``code`` (also written by the HTTP server itself)."""
    spec = CATALOG[code]
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
    return body


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)  # noqa: S101 - registered for this type only
    return problem_response(exc.code, exc.detail, headers=exc.headers, extra=exc.extra)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    if isinstance(exc.__cause__, ClientDisconnect):
        # FastAPI wraps a body read cut short by the client's leaving in a 400.
        return await _on_client_disconnect(request, exc.__cause__)
    if exc.status_code == 405:
        return problem_response(ErrorCode.METHOD_NOT_ALLOWED, headers=exc.headers)
    if exc.status_code == 404:
        return problem_response(ErrorCode.NOT_FOUND)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot decode (not UTF-8, not JSON): the client's fault.
        return problem_response(
            ErrorCode.VALIDATION_ERROR,
            "The request body could not be read as JSON.",
            extra={"errors": [{"location": "body", "message": "not readable as JSON"}]},
        )
    # Other framework HTTP errors are not expected; never echo their detail text.
    logger.error("unexpected framework HTTP error %s", exc.status_code)
    return problem_response(ErrorCode.INTERNAL_ERROR)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    # Report where and what, never the rejected input (it may be a secret or hostile text).
    errors = [
        {
            "location": ".".join(str(part) for part in error.get("loc", ())),
            "message": str(error.get("msg", "")).removeprefix("Value error, "),
        }
        for error in exc.errors()
    ]
    return problem_response(ErrorCode.VALIDATION_ERROR, extra={"errors": errors})


async def _on_client_disconnect(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClientDisconnect)  # noqa: S101
    # The browser closed the connection (navigated away, aborted the fetch): not a fault of ours.
    logger.info("client disconnected before the answer")
    return Response(status_code=CLIENT_CLOSED_REQUEST)


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
    app.add_exception_handler(ClientDisconnect, _on_client_disconnect)
    app.add_exception_handler(Exception, _on_unexpected)


def render_error_table() -> str:
    """The Markdown table of every error code (docs/errors.md is generated from it)."""
    lines = [
        "| code | status | meaning | what the SPA should do |",
        "|---|---|---|---|",
    ]
    for code, spec in CATALOG.items():
        lines.append(f"| `{code.value}` | {spec.status} | {spec.meaning} | {spec.advice} |")
    return "\n".join(lines) + "\n"
