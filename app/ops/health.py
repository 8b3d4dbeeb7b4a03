"""Liveness and readiness.

``/healthz`` answers as long as the process serves requests and touches nothing else, so an
orchestrator never restarts a healthy replica because a dependency is slow. ``/readyz`` says whether
this replica should receive traffic: every registered check must pass, and it turns false as soon as
shutdown begins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[bool]]


@dataclass
class Readiness:
    """Named checks that must all pass, and a switch flipped when shutdown begins.

    ``advisories`` are reported but do not decide readiness: a problem that every replica shares
    (meetergo refusing the API key) would take them all out of rotation and help nobody.
    """

    checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    advisories: dict[str, Callable[[], str]] = field(default_factory=dict)
    shutting_down: bool = False

    async def report(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {"configuration": "ok"}  # the app exists, so it loaded
        for name, check in self.checks.items():
            try:
                ok = await check()
            except Exception:  # noqa: BLE001 - a failing dependency means "not ready", never a 500
                ok = False
            results[name] = "ok" if ok else "failing"
        ready = not self.shutting_down and all(value == "ok" for value in results.values())
        if self.shutting_down:
            results["shutdown"] = "in progress"
        for name, advisory in self.advisories.items():
            results[name] = advisory()
        return ready, results


router = APIRouter(tags=["operations"])
_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz", operation_id="healthz", summary="Liveness: the process serves requests")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="Readiness: configuration valid and dependencies answering",
    responses={
        200: {"description": "Ready; `checks` may still report an advisory (degraded)"},
        503: {
            "description": "Not ready: a check failed or shutdown is in progress",
            "content": {"application/json": {}},
        },
    },
)
async def readyz(request: Request) -> JSONResponse:
    readiness: Readiness = request.app.state.readiness
    ready, checks = await readiness.report()
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
        headers=_NO_STORE,
    )
