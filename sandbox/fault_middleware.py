"""ASGI middleware that makes API requests fail on purpose, as the active faults say."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.asgi import read_body, replaying, wait_for_disconnect
from sandbox.errors import default_message, nest_body
from sandbox.faults import ActiveFaults, FaultConfig
from sandbox.recorder import RATE_LIMITED_SCOPE_KEY
from sandbox.tcp_reset import reset_connection

logger = logging.getLogger("sandbox.faults")

# What a body cut off mid-stream looks like: valid JSON up to the point where it stops.
TRUNCATED_JSON = b'{"connections":[{"id":"5f0c7a3e-1d2b-4c8a-9e6f-'

_DISCONNECT_GRACE_SECONDS = 1.0


class FaultInjector:
    def __init__(self, app: ASGIApp, faults: ActiveFaults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault = self.faults.claim(scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if not await self._answered_by_fault(fault, scope, receive, send):
            await self.app(scope, replaying(body, receive), send)

    async def _answered_by_fault(
        self, fault: FaultConfig, scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """Act out the fault; False when the request should go on to the API after all."""
        if fault.reset:
            await self._reset(scope, receive, send)
        elif fault.hang and await _client_left_during(fault.hang_seconds, receive):
            pass  # nobody is left to answer
        elif fault.rate_limited:
            scope[RATE_LIMITED_SCOPE_KEY] = True
            await _send_json(send, 429, nest_body(429, "Too Many Requests"), _retry_after(fault))
        elif fault.error_rate and self.faults.random.random() < fault.error_rate:
            status = self.faults.random.choice(fault.error_statuses)
            await _send_json(send, status, nest_body(status, default_message(status)))
        elif fault.malformed_json:
            await _send_raw(send, 200, TRUNCATED_JSON)
        else:
            return False
        return True

    async def _reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not reset_connection(scope):
            logger.warning("reset fault: the server exposes no transport, answering 502 instead")
            body = nest_body(502, "Connection reset (simulated; the server cannot send RST)")
            await _send_json(send, 502, body)
            return
        # Return only once the server has noticed, so it does not try to answer a closed socket.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wait_for_disconnect(receive), _DISCONNECT_GRACE_SECONDS)


async def _client_left_during(seconds: float, receive: Receive) -> bool:
    """Sleep ``seconds``; stop early, answering True, if the client gives up and disconnects."""
    sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        done, _ = await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return watcher in done


def _retry_after(fault: FaultConfig) -> list[tuple[bytes, bytes]]:
    if fault.retry_after is None:
        return []
    return [(b"retry-after", str(fault.retry_after).encode())]


async def _send_json(
    send: Send,
    status: int,
    body: dict[str, object],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await _send_raw(send, status, json.dumps(body, separators=(",", ":")).encode(), headers)


async def _send_raw(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
