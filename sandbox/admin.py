"""The sandbox's own endpoints: seed, reset, faults, request log, traffic, state, liveness."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sandbox.clock import iso8601, utc_now
from sandbox.errors import NotFoundError
from sandbox.faults import FaultConfig
from sandbox.recorder import LOG_PATH, TRAFFIC_PATH
from sandbox.runtime import RuntimeDep
from sandbox.seed import KEYS, seed_document

router = APIRouter()


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/_sandbox/seed")
async def get_seed(runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(seed_document(runtime.settings))


@router.post("/_sandbox/reset", status_code=204)
async def reset(runtime: RuntimeDep) -> Response:
    runtime.reset()
    return Response(status_code=204)


@router.get("/_sandbox/faults")
async def get_faults(runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(runtime.faults.config.model_dump(mode="json"))


@router.put("/_sandbox/faults")
async def put_faults(config: FaultConfig, runtime: RuntimeDep) -> JSONResponse:
    """Replace the active faults (fields left out take their defaults)."""
    runtime.faults.set(config)
    return JSONResponse(runtime.faults.config.model_dump(mode="json"))


@router.delete("/_sandbox/faults", status_code=204)
async def clear_faults(runtime: RuntimeDep) -> Response:
    runtime.faults.clear()
    return Response(status_code=204)


@router.get(LOG_PATH)
async def get_requests(runtime: RuntimeDep, path_prefix: str = "") -> JSONResponse:
    """The request log, oldest first, optionally only paths starting with ``path_prefix``."""
    return JSONResponse([entry.to_json() for entry in runtime.log.entries(path_prefix)])


@router.delete(LOG_PATH, status_code=204)
async def clear_requests(runtime: RuntimeDep) -> Response:
    runtime.log.clear()
    return Response(status_code=204)


@router.post("/_sandbox/connections/revoke")
async def revoke_connections_of(email: str, runtime: RuntimeDep) -> JSONResponse:
    """The same for every connection of an account, by its e-mail (handy in the demo)."""
    found = runtime.connections.find_by_email(email)
    now = utc_now()
    for connection in found:
        runtime.connections.revoke(connection, now)
    return JSONResponse({"revoked": [connection.id for connection in found]})


@router.post("/_sandbox/connections/{connection_id}/revoke")
async def revoke_connection(connection_id: str, runtime: RuntimeDep) -> JSONResponse:
    """Mark a connection as having lost its credentials (``isConnected: false``), as when the
    user revokes meetergo's access at Google or Microsoft. Connecting that account again restores
    it (assumption 9)."""
    connection = runtime.connections.find_any(connection_id)
    if connection is None:
        return JSONResponse({"detail": "no such connection"}, status_code=404)
    runtime.connections.revoke(connection, utc_now())
    return JSONResponse(connection.to_json())


@router.get(TRAFFIC_PATH)
async def get_traffic(
    runtime: RuntimeDep,
    window: Annotated[float, Query(gt=0, le=86400)] = 60,
    key: str | None = None,
) -> JSONResponse:
    """API calls per ``window`` seconds, 429s among them, and the busiest window anywhere."""
    return JSONResponse(runtime.traffic.report(window, key))


@router.delete(TRAFFIC_PATH, status_code=204)
async def clear_traffic(runtime: RuntimeDep) -> Response:
    runtime.traffic.clear()
    return Response(status_code=204)


@router.get("/_sandbox/state")
async def get_state(runtime: RuntimeDep) -> JSONResponse:
    """Every user's connections as the API would list them, without spending a token."""
    users = {
        user: [connection.to_json() for connection in connections]
        for user, connections in runtime.connections.all().items()
    }
    return JSONResponse({"users": users})


class KeyExpiry(BaseModel):
    """When a seeded key expires; a moment in the past expires it at once."""

    model_config = ConfigDict(extra="forbid")
    expires_at: AwareDatetime = Field(alias="expiresAt")


def _expiry_document(name: str, expires_at: datetime | None) -> dict[str, str | None]:
    return {"name": name, "expiresAt": iso8601(expires_at) if expires_at else None}


@router.put("/_sandbox/keys/{name}/expiry")
async def set_key_expiry(name: str, expiry: KeyExpiry, runtime: RuntimeDep) -> JSONResponse:
    """Expire the seeded key ``name`` (admin, member, ...) at ``expiresAt``, until reset."""
    if name not in {key.name for key in KEYS}:
        raise NotFoundError(f"No seeded key named {name!r}")
    runtime.key_expiry[name] = expiry.expires_at
    return JSONResponse(_expiry_document(name, expiry.expires_at))


@router.delete("/_sandbox/keys/{name}/expiry", status_code=204)
async def clear_key_expiry(name: str, runtime: RuntimeDep) -> Response:
    """Back to the seed's expiry for ``name``."""
    runtime.key_expiry.pop(name, None)
    return Response(status_code=204)
