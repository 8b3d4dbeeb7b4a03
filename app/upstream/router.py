"""The calendar API routes, generated from the allowlist in :mod:`app.upstream.table`.

Each table entry becomes one FastAPI route whose signature declares exactly its path parameters,
query parameters and body, so FastAPI validates them, documents them in the OpenAPI document, and
nothing else reaches the handler. The handler then refuses query parameters the table does not
name (``userId`` included), builds an :class:`UpstreamCall` and hands it to the proxy pipeline.

The two reads (``listConnections``, ``listCalendars``) are most of the traffic, and most of them
are answered from the read cache. For them FastAPI's dependency solving and validation cost more
than the answer itself (bench/RESULTS.md, the hot path's profile), so their route
(:class:`_ReadRoute`) serves the plain request, one with nothing to validate (no query string,
no body, a well-formed connection id), by the same steps without that machinery: the same
session check, the same mapping, the same pipeline, the same response. Any other request takes
the documented FastAPI path, which answers it exactly as before (422 for a stray parameter).
"""

from __future__ import annotations

import inspect
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.config import Settings
from app.connect.begin import begin_flow
from app.connect.flows import FlowCodec
from app.contract import problems
from app.deps import from_app_state
from app.errors import ErrorCode, ProblemError
from app.ops.set_cookie import queue_cookie
from app.session.deps import (
    MAPPING_PROBLEMS,
    SESSION_PROBLEMS,
    ActiveSessionDep,
    MeetergoUserDep,
    authenticate_request,
    meetergo_user_id,
)
from app.session.identity import user_hash
from app.upstream.call import UpstreamCall
from app.upstream.proxy import CalendarProxy
from app.upstream.responses import UPSTREAM_PROBLEMS, to_response
from app.upstream.table import (
    CONNECTION_ID_PATTERN,
    MAX_REDIRECT_URL,
    ROUTES,
    ROUTES_BY_ID,
    UPSTREAM_BASE_PATH,
    QueryParam,
    UpstreamRoute,
)

logger = logging.getLogger(__name__)
FLOW_ID_HEADER = "X-Flow-ID"

# What every calendar route can answer besides meetergo's success (app/contract.py adds the CSRF
# and body checks that run before routing).
_PROBLEMS = (*SESSION_PROBLEMS, *MAPPING_PROBLEMS, ErrorCode.VALIDATION_ERROR, *UPSTREAM_PROBLEMS)
_ROUTE_PROBLEMS: dict[str, tuple[ErrorCode, ...]] = {
    "getAuthUrl": (ErrorCode.INVALID_REDIRECT,),
}


def validate_return_target(url: str, allowed_origins: tuple[str, ...]) -> str:
    """``url`` if it is an absolute URL on an allowed app origin; else 422 ``invalid_redirect``."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
    if (
        origin not in allowed_origins
        or parts.username is not None
        or any(ord(char) < 0x21 or char == "\\" for char in url)
    ):
        raise ProblemError(
            ErrorCode.INVALID_REDIRECT, "The return URL must be on one of the app's origins."
        )
    return url


def _query_annotation(param: QueryParam) -> Any:
    description = param.description
    if param.kind == "bool":
        return Annotated[Literal["true", "false"] | None, Query(description=description)]
    return Annotated[
        str | None, Query(description=description, min_length=1, max_length=MAX_REDIRECT_URL)
    ]


def _signature(route: UpstreamRoute, providers: type[StrEnum]) -> inspect.Signature:
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("request", keyword, annotation=Request),
        inspect.Parameter("session", keyword, annotation=ActiveSessionDep),
        inspect.Parameter("meetergo_user_id", keyword, annotation=MeetergoUserDep),
        inspect.Parameter(
            "proxy", keyword, annotation=Annotated[CalendarProxy, from_app_state("calendar_proxy")]
        ),
        inspect.Parameter(
            "flows", keyword, annotation=Annotated[FlowCodec, from_app_state("flows")]
        ),
    ]
    for name in route.path_params:
        if name == "provider":
            annotation: Any = Annotated[providers, Path(description="Calendar provider.")]
        else:
            annotation = Annotated[
                str,
                Path(
                    description="meetergo's connection id: letters, digits, '_' and '-', "
                    "at most 128 characters.",
                    pattern=CONNECTION_ID_PATTERN,
                ),
            ]
        params.append(inspect.Parameter(name, keyword, annotation=annotation))
    for query in route.query:
        params.append(
            inspect.Parameter(
                query.name, keyword, annotation=_query_annotation(query), default=None
            )
        )
    if route.body is not None:
        params.append(inspect.Parameter("body", keyword, annotation=Annotated[route.body, Body()]))
    return inspect.Signature(params, return_annotation=Response)


def _endpoint(route: UpstreamRoute, settings: Settings, providers: type[StrEnum]) -> Any:
    allowed_query = {param.name for param in route.query}

    async def endpoint(**values: Any) -> Response:
        request: Request = values["request"]
        unexpected = sorted(set(request.query_params) - allowed_query)
        repeated = sorted(
            {
                k
                for k, _ in request.query_params.multi_items()
                if len(request.query_params.getlist(k)) > 1
            }
        )
        if unexpected or repeated:
            # userId (meetergo's admin-only parameter) is refused here like any other stranger.
            names = ", ".join(unexpected + repeated)
            raise ProblemError(
                ErrorCode.VALIDATION_ERROR,
                "Unknown or repeated query parameters are refused.",
                extra={"errors": [{"location": "query", "message": f"not allowed: {names}"}]},
            )
        if route.body is None and await request.body():
            # Nothing a client puts in a body (userId included) reaches meetergo: refuse, do not
            # silently drop, so that a caller who thinks it sent something learns otherwise.
            raise ProblemError(
                ErrorCode.VALIDATION_ERROR,
                "This call takes no request body.",
                extra={"errors": [{"location": "body", "message": "not allowed: a body"}]},
            )
        session = values["session"]
        path_params = {name: str(values[name]) for name in route.path_params}
        query = {q.name: values[q.name] for q in route.query if q.forwarded and values[q.name]}
        flow: _Flow | None = None
        if route.operation_id == "getAuthUrl":
            flow = await _start_flow(request, values, settings)
            query["redirectUrl"] = flow.callback_url
        body = values.get("body")
        call = UpstreamCall(
            route=route,
            meetergo_user_id=values["meetergo_user_id"],
            app_user_hash=user_hash(session.data.sub),
            path_params=path_params,
            query=query,
            json_body=body.upstream_json() if body is not None else None,
            request_id=getattr(request.state, "request_id", None),
        )
        result = await values["proxy"].handle(call)
        response = to_response(call, result)
        if flow is not None:
            # Only once meetergo has started the flow: a failed start must not take a place in
            # the cookie (it keeps the newest few) and push out a flow that is still pending.
            queue_cookie(request, flow.cookie_header)
            response.headers[FLOW_ID_HEADER] = flow.flow_id
        return response

    endpoint.__signature__ = _signature(route, providers)  # type: ignore[attr-defined]
    endpoint.__name__ = route.operation_id
    endpoint.__doc__ = route.summary
    return endpoint


_CONNECTION_ID = re.compile(CONNECTION_ID_PATTERN)


class _ReadRoute(APIRoute):
    """A read's route: plain requests skip FastAPI's dependency solving (see the module)."""

    def __init__(self, path: str, endpoint: Any, **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        # Looked up here: include_router() builds new route objects of this class.
        self.upstream = ROUTES_BY_ID[self.operation_id or ""]

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path_params = self._plain(scope)
        if path_params is None:
            await super().handle(scope, receive, send)
            return
        request = Request(scope, receive)
        state = request.app.state
        # The dependencies of the FastAPI path, in its order: session, then meetergo user.
        session = await authenticate_request(request, state.sessions, activity=True)
        call = UpstreamCall(
            route=self.upstream,
            meetergo_user_id=await meetergo_user_id(request, session, state.user_mapping),
            app_user_hash=user_hash(session.data.sub),
            path_params=path_params,
            request_id=getattr(request.state, "request_id", None),
        )
        proxy: CalendarProxy = state.calendar_proxy
        response = to_response(call, await proxy.handle(call))
        await response(scope, receive, send)

    def _plain(self, scope: Scope) -> dict[str, str] | None:
        """The path parameters of a request with nothing to validate, else None."""
        if scope["method"] != "GET" or scope.get("query_string"):
            return None
        for name, value in scope["headers"]:
            if name in (b"content-length", b"transfer-encoding") and value not in (b"0",):
                return None  # a body: the FastAPI path refuses it with 422
        params: dict[str, str] = scope.get("path_params", {})
        found = {}
        for name in self.upstream.path_params:
            value = params.get(name)
            if not isinstance(value, str) or _CONNECTION_ID.fullmatch(value) is None:
                return None
            found[name] = value
        return found


@dataclass(frozen=True)
class _Flow:
    flow_id: str
    callback_url: str  # the redirectUrl meetergo gets
    cookie_header: str  # the flow cookie, with this flow added


async def _start_flow(request: Request, values: dict[str, Any], settings: Settings) -> _Flow:
    """A new flow for this browser; meetergo is sent to our callback, never to the client's URL.

    With a ``redirectUrl`` the flow ends by redirecting there with meetergo's result parameters
    (meetergo's own snippets keep working); without one, our callback page reports to the opener.
    """
    flows: FlowCodec = values["flows"]
    requested = values.get("redirectUrl")
    return_to = validate_return_target(requested, settings.allowed_origins) if requested else None
    claims, token = await begin_flow(
        request,
        session=values["session"],
        meetergo_user_id=values["meetergo_user_id"],
        provider=str(values["provider"]),
        mode="redirect" if return_to else "popup",
        return_to=return_to,
    )
    current = flows.browser_flows(request.cookies.get(flows.cookie_name))
    return _Flow(
        flow_id=claims.flow_id,
        callback_url=flows.callback_url(token),
        cookie_header=flows.cookie_header({**current, claims.flow_id: None}),
    )


async def _disabled() -> Response:
    raise ProblemError(ErrorCode.ROUTE_DISABLED)


def build_calendar_router(settings: Settings) -> APIRouter:
    """The enabled routes of the allowlist under ``<api_prefix>/v4/calendar-connections``."""
    providers = StrEnum("Provider", {name: name for name in settings.providers})  # type: ignore[misc]
    router = APIRouter(prefix=settings.api_prefix + UPSTREAM_BASE_PATH, tags=["calendar"])
    for route in ROUTES:
        if route.operation_id in settings.disabled_routes:
            router.add_api_route(
                route.path,
                _disabled,
                methods=[route.method],
                include_in_schema=False,
                name=f"{route.operation_id}_disabled",
            )
            continue
        success: dict[int | str, dict[str, Any]] = {
            route.success_status: {
                "description": "meetergo's answer, passed through unchanged",
                **(
                    {"content": {"application/json": {"example": route.response_example}}}
                    if route.response_example
                    else {}
                ),
            }
        }
        fast = route.method == "GET" and route.is_read and not route.query
        router.add_api_route(
            route.path,
            _endpoint(route, settings, providers),
            route_class_override=_ReadRoute if fast else APIRoute,
            methods=[route.method],
            operation_id=route.operation_id,
            summary=route.summary,
            status_code=route.success_status,
            response_class=Response,
            responses={
                **success,
                **problems(_PROBLEMS, _ROUTE_PROBLEMS.get(route.operation_id, ())),
            },
        )
    return router
