"""``/connect``: start a flow by navigation, receive meetergo's redirect, report the result.

- ``GET /connect/{provider}``: a same-origin navigation (a popup the SPA opened in its click
  handler, or the whole page) that answers 303 to the provider's consent screen.
- ``GET /connect/callback/{flowToken}``: where meetergo returns the browser. Checks the token and
  this browser's flow cookie, confirms the connection, then reports: a page that posts to the
  opener (popup mode) or a 303 to the app's return URL with meetergo's parameters (redirect mode).
- ``GET <api_prefix>/connect/flows/{flowId}``: the SPA's fallback when neither ``window.opener``
  nor the BroadcastChannel reached it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import RedirectResponse, Response

from app.config import Settings
from app.connect.begin import begin_flow, list_connection_ids
from app.connect.flows import (
    FLOW_ID,
    FlowClaims,
    FlowCodec,
    FlowMode,
    FlowResult,
    session_binding,
)
from app.connect.page import render_flow_page
from app.connect.results import ConsentOutcome, read_outcome
from app.connect.store import FlowStore
from app.connect.undo import HijackUndo
from app.contract import problems
from app.errors import ErrorCode, ProblemError
from app.ops.metrics import Metrics
from app.ops.set_cookie import queue_cookie
from app.quota.factory import Quota
from app.session.deps import SESSION_PROBLEMS, authenticate_request, meetergo_user_id
from app.session.identity import user_hash
from app.session.sessions import Session
from app.state.store import SharedStateUnavailable
from app.upstream.call import UpstreamCall
from app.upstream.proxy import CalendarProxy
from app.upstream.responses import to_response
from app.upstream.router import validate_return_target
from app.upstream.table import MAX_REDIRECT_URL, ROUTES_BY_ID

logger = logging.getLogger(__name__)

# meetergo's own messages for the errors it documents, so its snippets show what they expect.
MEETERGO_MESSAGES = {
    ErrorCode.CONNECTION_ALREADY_EXISTS: "Connection already exists",
    ErrorCode.ACCESS_DENIED: "access_denied",
    ErrorCode.INVALID_SCOPE: "invalid_scope",
    ErrorCode.SERVER_ERROR: "server_error",
    ErrorCode.USER_NOT_FOUND: "user_not_found",
}


class FlowStatus(BaseModel):
    flowId: str  # noqa: N815
    state: Literal["pending", "success", "error"]
    provider: str | None
    connectionId: str | None  # noqa: N815
    code: str | None


def _components(request: Request) -> tuple[Settings, FlowCodec, CalendarProxy]:
    state = request.app.state
    return state.settings, state.flows, state.calendar_proxy


def _call(
    operation: str, session: Session, mid: str, request: Request, **params: str
) -> UpstreamCall:
    return UpstreamCall(
        route=ROUTES_BY_ID[operation],
        meetergo_user_id=mid,
        app_user_hash=user_hash(session.data.sub),
        path_params=dict(params),
        request_id=getattr(request.state, "request_id", None),
    )


def _finish(
    request: Request,
    *,
    flow_id: str | None,
    mode: FlowMode,
    return_to: str | None,
    result: FlowResult,
    new: bool = False,
) -> Response:
    """End a flow: record the result for the status endpoint, then report it.

    Only flows this browser started are recorded (``new``: one that failed as it started).
    """
    settings, flows, _ = _components(request)
    if flow_id is not None:
        current = flows.browser_flows(request.cookies.get(flows.cookie_name))
        if new or flow_id in current:
            queue_cookie(request, flows.cookie_header({**current, flow_id: result}))
    if mode == "redirect" and return_to is not None:
        headers = {"Cache-Control": "no-store"}
        if result.retry_after is not None:  # the app may wait this long before offering a retry
            headers["Retry-After"] = str(result.retry_after)
        return RedirectResponse(_with_result(return_to, result), status_code=303, headers=headers)
    return render_flow_page(flow_id, result, settings.allowed_origins)


def _with_result(return_to: str, result: FlowResult) -> str:
    """``return_to`` with meetergo's documented parameters (and our ``code``) appended."""
    if result.success:
        params = {"success": "true", "provider": result.provider}
        params["connectionId"] = result.connection_id or ""
    else:
        code = ErrorCode(result.code or ErrorCode.CONNECT_FAILED)
        message = MEETERGO_MESSAGES.get(code, code.value)
        # meetergo encodes the message twice; so do we, so its snippets decode it the same way.
        params = {
            "error": "true",
            "provider": result.provider,
            "message": quote(message, safe=""),
            "code": code.value,
        }
        if result.retry_after is not None:
            params["retryAfter"] = str(result.retry_after)
    parts = urlsplit(return_to)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _failure(provider: str, code: ErrorCode, retry_after: str | None = None) -> FlowResult:
    seconds = int(retry_after) if retry_after is not None and retry_after.isdigit() else None
    return FlowResult(success=False, provider=provider, code=code.value, retry_after=seconds)


router = APIRouter(tags=["connect"])
# The small page that reports a flow's result to the opener (app/connect/page.py): every failure of
# a flow started by navigation ends there too, so a popup never shows a bare JSON error.
_FLOW_PAGE: dict[str, Any] = {
    "description": "The page that reports the flow's result to the app (popup mode, or a failure)",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


@router.get(
    "/connect/{provider}",
    operation_id="startConnectFlow",
    summary="Start connecting a calendar by navigation (popup or full page)",
    response_class=Response,
    status_code=303,
    responses={
        303: {
            "description": "To the provider's consent screen, or (mode=redirect) back to the "
            "app with the result"
        },
        200: _FLOW_PAGE,
        **problems(ErrorCode.VALIDATION_ERROR),
    },
)
async def start(  # noqa: PLR0917 - FastAPI reads the parameters by name
    request: Request,
    provider: Annotated[str, Path(max_length=32)],
    mode: Annotated[Literal["popup", "redirect"], Query()] = "popup",
    returnTo: Annotated[str | None, Query(max_length=MAX_REDIRECT_URL)] = None,  # noqa: N803
    setAsCalendarSync: Annotated[Literal["true", "false"] | None, Query()] = None,  # noqa: N803
    flowId: Annotated[str | None, Query(pattern=FLOW_ID.pattern)] = None,  # noqa: N803
) -> Response:
    settings, flows, proxy = _components(request)
    return_to = None
    try:
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise ProblemError(ErrorCode.ORIGIN_NOT_ALLOWED)
        if returnTo is not None:
            return_to = validate_return_target(returnTo, settings.allowed_origins)
        if provider not in settings.providers:
            raise ProblemError(ErrorCode.VALIDATION_ERROR, "Unknown provider.")
        session = await authenticate_request(request, request.app.state.sessions, activity=True)
        mid = await meetergo_user_id(request, session, request.app.state.user_mapping)
        claims, token = await begin_flow(
            request,
            session=session,
            meetergo_user_id=mid,
            provider=provider,
            mode=mode,
            return_to=return_to,
            flow_id=flowId,
        )
        call = _call("getAuthUrl", session, mid, request, provider=provider)
        query = {"redirectUrl": flows.callback_url(token)}
        if setAsCalendarSync is not None:
            query["setAsCalendarSync"] = setAsCalendarSync
        result = await proxy.handle(replace(call, query=query))
        auth_url = _auth_url(to_response(call, result))
    except ProblemError as exc:
        return _finish(
            request,
            flow_id=flowId,
            mode=mode,
            return_to=return_to,
            result=_failure(provider, exc.code, exc.headers.get("Retry-After")),
            new=True,
        )
    current = flows.browser_flows(request.cookies.get(flows.cookie_name))
    queue_cookie(request, flows.cookie_header({**current, claims.flow_id: None}))
    return RedirectResponse(auth_url, status_code=303, headers={"Cache-Control": "no-store"})


def _auth_url(response: Response) -> str:
    try:
        url = json.loads(bytes(response.body))["authUrl"]
    except (ValueError, KeyError, TypeError):
        raise ProblemError(ErrorCode.UPSTREAM_BAD_RESPONSE) from None
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise ProblemError(ErrorCode.UPSTREAM_BAD_RESPONSE)
    return url


@router.get(
    "/connect/callback/{flow_token}",
    operation_id="connectCallback",
    summary="meetergo's return after consent: report the result to the app",
    response_class=Response,
    responses={
        200: _FLOW_PAGE,
        303: {"description": "mode=redirect: back to the app's return URL with the result"},
        **problems(ErrorCode.VALIDATION_ERROR),
    },
)
async def callback(request: Request, flow_token: Annotated[str, Path(max_length=4096)]) -> Response:
    settings, flows, _ = _components(request)
    store: FlowStore = request.app.state.flow_store
    flow_key = flows.read_token(flow_token)
    if flow_key is None:
        return render_flow_page(
            None, _failure("unknown", ErrorCode.FLOW_EXPIRED), settings.allowed_origins
        )
    try:
        claims = await store.load(flow_key)
    except SharedStateUnavailable:
        logger.error("connect callback not handled: shared state unavailable")
        failure = _failure("unknown", ErrorCode.SHARED_STATE_UNAVAILABLE)
        return render_flow_page(None, failure, settings.allowed_origins)
    if claims is None:  # expired, or the shared state lost it: nothing is known of the flow
        return render_flow_page(
            None, _failure("unknown", ErrorCode.FLOW_EXPIRED), settings.allowed_origins
        )
    outcome = read_outcome(request.query_params)
    browser = flows.browser_flows(request.cookies.get(flows.cookie_name))
    session = await _session_or_none(request)
    owned = (
        claims.flow_id in browser
        and session is not None
        and session_binding(session.data.sid) == claims.session
    )
    if not owned:
        await _foreign_callback(request, flow_key, claims, outcome.connection_id)
        result = _failure(claims.provider, ErrorCode.FLOW_MISMATCH)
        return _finish(request, flow_id=None, mode="popup", return_to=None, result=result)
    assert session is not None  # noqa: S101 - owned implies a session
    previous = browser.get(claims.flow_id)
    if previous is not None:  # a reload of the callback: the same answer again
        result = previous
    else:
        result = await _owner_callback(request, flow_key, claims, session, outcome)
    return _finish(
        request, flow_id=claims.flow_id, mode=claims.mode, return_to=claims.return_to, result=result
    )


async def _session_or_none(request: Request) -> Session | None:
    try:
        return await authenticate_request(request, request.app.state.sessions, activity=False)
    except ProblemError:
        return None


async def _owner_callback(
    request: Request, flow_key: str, claims: FlowClaims, session: Session, outcome: ConsentOutcome
) -> FlowResult:
    """The flow's own browser and session came back: success only if nobody decided it before."""
    store: FlowStore = request.app.state.flow_store
    try:
        _, holder = await store.claim(flow_key, "owner")
        if holder != "owner":
            # A callback from another browser came first: it decided the flow (and removed
            # what it connected), so the owner must not be told of a success.
            logger.warning("connect flow %s was decided by a callback elsewhere", claims.flow_id)
            return _failure(claims.provider, ErrorCode.FLOW_MISMATCH)
        if not outcome.success or outcome.connection_id is None:
            return _failure(claims.provider, outcome.code or ErrorCode.CONNECT_FAILED)
        if not await store.claim_connection(
            claims.meetergo_user_id, outcome.connection_id, "owner"
        ):
            logger.warning("connect flow %s names a connection being removed", claims.flow_id)
            return _failure(claims.provider, ErrorCode.FLOW_MISMATCH)
    except SharedStateUnavailable:
        logger.error("connect flow %s not decided: shared state unavailable", claims.flow_id)
        return _failure(claims.provider, ErrorCode.SHARED_STATE_UNAVAILABLE)
    return await _confirm(request, claims, session, outcome.connection_id)


async def _confirm(
    request: Request, claims: FlowClaims, session: Session, connection_id: str
) -> FlowResult:
    """Success only if meetergo lists the new connection for this user."""
    # meetergo may have a new connection: the user's cached reads go first, on every replica;
    # the confirmation below then stores meetergo's current list for the SPA's next read.
    quota: Quota = request.app.state.quota
    await quota.cache_stage.invalidate(claims.meetergo_user_id)
    try:
        ids = await list_connection_ids(request, session, claims.meetergo_user_id, confirm=True)
    except ProblemError as exc:
        if exc.code is ErrorCode.UPSTREAM_RATE_LIMITED:
            # Only the owner's browser (session and flow cookie) gets here: the check protects
            # nobody, and "failed" would make their retry hit connection_already_exists.
            logger.warning(
                "connect flow %s reported on meetergo's word: no budget to confirm it",
                claims.flow_id,
            )
            return FlowResult(success=True, provider=claims.provider, connection_id=connection_id)
        return _failure(claims.provider, exc.code, exc.headers.get("Retry-After"))
    if connection_id not in ids:
        logger.warning("callback named a connection meetergo does not list for this user")
        return _failure(claims.provider, ErrorCode.CONNECT_FAILED)
    return FlowResult(success=True, provider=claims.provider, connection_id=connection_id)


async def _foreign_callback(
    request: Request, flow_key: str, claims: FlowClaims, connection_id: str | None
) -> None:
    """A callback in a browser that did not start the flow: remove what it connected, if safe.

    Removed is only a connection that (1) this callback decided the flow for (it came first,
    before the owner's), (2) did not exist when the flow started, and (3) no owner's callback
    has reported. Anything less certain is left alone: a forged link must never cost a user a
    connection they had.
    """
    store: FlowStore = request.app.state.flow_store
    undo: HijackUndo = request.app.state.hijack_undo
    metrics: Metrics = request.app.state.metrics
    logger.warning("connect callback outside the browser that started flow %s", claims.flow_id)
    try:
        won, _ = await store.claim(flow_key, "foreign")
        if not won:
            return  # the owner decided it before (this is a replay), or another stranger did
        if connection_id is None:
            return
        if connection_id in claims.known:
            metrics.hijack_removals.labels("kept_preexisting").inc()
            logger.warning(
                "callback of flow %s names a connection older than the flow: nothing removed",
                claims.flow_id,
            )
            return
        if not await store.claim_connection(claims.meetergo_user_id, connection_id, "remover"):
            metrics.hijack_removals.labels("kept_owned").inc()
            return
    except SharedStateUnavailable:
        metrics.hijack_removals.labels("undecided").inc()
        logger.error(
            "callback of flow %s outside its browser: shared state unavailable, nothing removed",
            claims.flow_id,
        )
        return
    await undo.remove(
        claims.flow_id,
        claims.meetergo_user_id,
        connection_id,
        getattr(request.state, "request_id", None),
    )


def build_status_router(settings: Settings) -> APIRouter:
    status = APIRouter(prefix=f"{settings.api_prefix}/connect", tags=["connect"])

    @status.get(
        "/flows/{flow_id}",
        operation_id="getConnectFlow",
        summary="The state of one of this browser's connect flows",
        response_model=FlowStatus,
        responses=problems(SESSION_PROBLEMS, ErrorCode.NOT_FOUND, ErrorCode.VALIDATION_ERROR),
    )
    async def flow_status(
        request: Request, flow_id: Annotated[str, Path(pattern=FLOW_ID.pattern)]
    ) -> FlowStatus:
        await authenticate_request(request, request.app.state.sessions, activity=False)
        flows: FlowCodec = request.app.state.flows
        browser = flows.browser_flows(request.cookies.get(flows.cookie_name))
        if flow_id not in browser:
            raise ProblemError(ErrorCode.NOT_FOUND, "No such flow in this browser.")
        result = browser[flow_id]
        if result is None:
            return FlowStatus(
                flowId=flow_id, state="pending", provider=None, connectionId=None, code=None
            )
        return FlowStatus(
            flowId=flow_id,
            state="success" if result.success else "error",
            provider=result.provider,
            connectionId=result.connection_id,
            code=result.code,
        )

    return status
