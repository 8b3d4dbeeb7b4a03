"""meetergo's six calendar-connection endpoints under ``/v4/calendar-connections``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox import assumptions
from sandbox.auth import ActorDep
from sandbox.clock import utc_now
from sandbox.runtime import RuntimeDep
from sandbox.validation import (
    auth_url_query,
    checked_provider,
    connection_update,
    parse_json_object,
    patch_fields,
)

router = APIRouter(prefix="/v4/calendar-connections")


@router.get("/auth/{provider}/url")
async def get_auth_url(
    provider: str, request: Request, actor: ActorDep, runtime: RuntimeDep
) -> JSONResponse:
    provider = checked_provider(provider)
    redirect_url = request.query_params.get("redirectUrl")
    set_as_calendar_sync = auth_url_query(
        redirect_url, request.query_params.get("setAsCalendarSync")
    )
    flow = runtime.flows.open(
        provider=provider,
        user_id=actor.user.id,
        redirect_url=redirect_url,
        set_as_calendar_sync=set_as_calendar_sync,
    )
    auth_url = f"{runtime.settings.public_url}/consent/{provider}?state={flow.state}"
    return JSONResponse({"authUrl": auth_url, "provider": provider})


@router.get("/connections")
async def list_connections(actor: ActorDep, runtime: RuntimeDep) -> JSONResponse:
    connections = runtime.connections.list(actor.user.id)
    return JSONResponse(
        {"connections": [c.to_json() for c in connections], "total": len(connections)}
    )


@router.get("/connections/{connection_id}/calendars")
async def list_calendars(connection_id: str, actor: ActorDep, runtime: RuntimeDep) -> JSONResponse:
    connection = runtime.connections.get(actor.user.id, connection_id)
    return JSONResponse(connection.calendars_json())


@router.patch("/connections/{connection_id}")
async def update_connection(
    connection_id: str, request: Request, actor: ActorDep, runtime: RuntimeDep
) -> JSONResponse:
    # As in NestJS, the body is validated (pipes) before the handler looks the connection up.
    body = parse_json_object(await request.body(), request.headers.get("content-type"))
    fields = patch_fields(body)
    connection = runtime.connections.get(actor.user.id, connection_id)
    connection.apply(connection_update(fields, connection), utc_now())
    return JSONResponse(connection.to_json(), status_code=assumptions.UPDATE_ANSWER_STATUS)


@router.delete("/connections/{connection_id}", status_code=204)
async def delete_connection(connection_id: str, actor: ActorDep, runtime: RuntimeDep) -> Response:
    runtime.connections.delete(actor.user.id, connection_id, utc_now())
    return Response(status_code=204)


@router.post("/connections/{connection_id}/set-primary")
async def set_primary(connection_id: str, actor: ActorDep, runtime: RuntimeDep) -> JSONResponse:
    connection = runtime.connections.set_primary(actor.user.id, connection_id, utc_now())
    return JSONResponse(connection.to_json(), status_code=assumptions.UPDATE_ANSWER_STATUS)
