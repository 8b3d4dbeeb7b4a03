"""The naive pass-through the hot-path benchmark compares with: FastAPI + httpx, thirty lines.

What anyone would write first: one route that forwards a GET under ``/api`` to the upstream with
the two secret headers, and passes the answer back. No session, no CSRF, no allowlist, no
logging: the floor for "FastAPI plus an HTTP client" on this machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from starlette.responses import Response


def create_naive_proxy(upstream_url: str) -> FastAPI:
    headers = {"Authorization": "Bearer bench-key", "x-meetergo-api-user-id": "bench-user"}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=upstream_url, headers=headers) as client:
            app.state.client = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/api/{path:path}")
    async def forward(path: str, request: Request) -> Response:
        answer = await request.app.state.client.get("/" + path)
        return Response(answer.content, answer.status_code, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
