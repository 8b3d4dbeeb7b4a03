"""The sandbox's own endpoints: seed, reset, faults, request log, liveness."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sandbox.clock import iso8601
from sandbox.errors import NotFoundError
from sandbox.faults import FaultConfig
from sandbox.recorder import LOG_PATH
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
