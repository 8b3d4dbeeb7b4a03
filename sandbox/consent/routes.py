"""The browser's path through a connection: consent screen, provider callback, final redirect.

``GET /consent/{provider}`` shows the screen; its form posts to ``POST /consent/{provider}``,
which answers 303 to ``GET /oauth/{provider}/callback`` (the provider returning to meetergo) with
a code or an OAuth error; the callback settles the flow and answers 302 to ``redirectUrl`` with
meetergo's result parameters, or to meetergo's own result page when there was no redirectUrl.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sandbox import assumptions
from sandbox.clock import utc_now
from sandbox.consent import outcome as results
from sandbox.consent.flows import ConsentFlow
from sandbox.consent.pages import consent_page, error_page, html_response, result_page
from sandbox.providers import CONSENT_PROVIDERS
from sandbox.runtime import RuntimeDep, SandboxRuntime

router = APIRouter()

RESULT_PATH = "/oauth/result"
BAD_STATE_TITLE = "This sign-in link is not valid"
BAD_STATE_MESSAGE = (
    "The link is unknown, has been used already, or has expired. "
    "Go back to the app and start connecting your calendar again."
)
INVALID_EMAIL = "Enter the e-mail address of the account to connect."
_PROVIDER_ERRORS = {results.ACCESS_DENIED, results.INVALID_SCOPE, results.SERVER_ERROR}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_EMAIL_LENGTH = 254


def _bad_state() -> HTMLResponse:
    return html_response(error_page(BAD_STATE_TITLE, BAD_STATE_MESSAGE), 400)


def _unknown_provider() -> HTMLResponse:
    return html_response(error_page("Unknown provider", "There is no such sign-in page."), 404)


def _form_action(flow: ConsentFlow) -> str:
    """CSP form-action: the form posts here, and its redirects end at the app's origin."""
    if flow.redirect_url is None:
        return "'self'"
    parts = urlsplit(flow.redirect_url)
    return f"'self' {parts.scheme}://{parts.netloc}"


def _consent_response(
    runtime: SandboxRuntime, flow: ConsentFlow, *, email: str, error: str | None = None
) -> HTMLResponse:
    html = consent_page(provider=flow.provider, state=flow.state, email=email, error=error)
    return html_response(
        html,
        400 if error else 200,
        form_action=_form_action(flow),
        coop=runtime.faults.config.consent_coop,
    )


@router.get("/consent/{provider}")
async def show_consent(provider: str, request: Request, runtime: RuntimeDep) -> Response:
    if provider not in CONSENT_PROVIDERS:
        return _unknown_provider()
    flow = runtime.flows.find(request.query_params.get("state", ""), provider)
    if flow is None:
        return _bad_state()
    return _consent_response(runtime, flow, email=runtime.users[flow.user_id].email)


@router.post("/consent/{provider}")
async def answer_consent(provider: str, request: Request, runtime: RuntimeDep) -> Response:
    if provider not in CONSENT_PROVIDERS:
        return _unknown_provider()
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    flow = runtime.flows.find(_first(form, "state"), provider)
    if flow is None:
        return _bad_state()

    callback = f"/oauth/{provider}/callback"
    if runtime.faults.config.consent_server_error:
        query = urlencode({"error": results.SERVER_ERROR, "state": flow.state})
    elif _first(form, "decision") != "allow":
        query = urlencode({"error": results.ACCESS_DENIED, "state": flow.state})
    else:
        email = _first(form, "email").strip()
        if len(email) > _MAX_EMAIL_LENGTH or not _EMAIL.match(email):
            return _consent_response(runtime, flow, email=email, error=INVALID_EMAIL)
        granted = "calendar" in form.get("scope", [])
        code = runtime.flows.issue_code(flow, email=email, calendar_scope=granted)
        query = urlencode({"code": code, "state": flow.state})
    return RedirectResponse(f"{callback}?{query}", status_code=303)


@router.get("/oauth/{provider}/callback")
async def provider_callback(provider: str, request: Request, runtime: RuntimeDep) -> Response:
    if provider not in CONSENT_PROVIDERS:
        return _unknown_provider()
    flow = runtime.flows.find(request.query_params.get("state", ""), provider)
    if flow is None:
        return _bad_state()
    params = request.query_params
    outcome = _settle(runtime, flow, code=params.get("code"), error=params.get("error"))
    runtime.flows.finish(flow)

    settings = runtime.settings
    query = results.result_query(outcome, settings.result_params)
    if flow.redirect_url is None:
        target = f"{RESULT_PATH}?{query}"
    else:
        target = results.redirect_target(flow.redirect_url, query, settings.redirect_query)
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


def _settle(
    runtime: SandboxRuntime, flow: ConsentFlow, *, code: str | None, error: str | None
) -> results.Outcome:
    """What meetergo makes of the provider's answer: a new connection or an error."""
    provider = flow.provider
    if error is not None:
        known = error if error in _PROVIDER_ERRORS else assumptions.FALLBACK_PROVIDER_ERROR
        return results.Outcome(provider, error=known)
    grant = runtime.flows.redeem(code or "", flow)
    if grant is None:
        return results.Outcome(provider, error=assumptions.FALLBACK_PROVIDER_ERROR)
    if not grant.calendar_scope:
        return results.Outcome(provider, error=results.INVALID_SCOPE)
    existing = runtime.connections.find_account(flow.user_id, provider, grant.email)
    if existing is not None:
        if not existing.is_connected and assumptions.RECONNECT_RESTORES_EXISTING_CONNECTION:
            runtime.connections.restore(existing, utc_now())
            return results.Outcome(provider, connection_id=existing.id)
        return results.Outcome(provider, error=results.CONNECTION_EXISTS)
    connection = runtime.connections.create(
        flow.user_id,
        provider,
        grant.email,
        set_as_calendar_sync=flow.set_as_calendar_sync,
        now=utc_now(),
    )
    return results.Outcome(provider, connection_id=connection.id)


@router.get(RESULT_PATH)
async def show_result(request: Request) -> HTMLResponse:
    """meetergo's own page, for flows started without a redirectUrl. Reads either result form."""
    params = request.query_params
    success = params.get("success") == "true"
    message = params.get("message") or params.get("error") or ""
    if message == "true":
        message = ""
    html = result_page(
        success=success,
        provider=params.get("provider", ""),
        connection_id=params.get("connectionId") or params.get("connection_id") or "",
        message=unquote(message),
    )
    return html_response(html)


def _first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""
