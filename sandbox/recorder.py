"""The request log: every request the sandbox receives, secrets masked, the last N kept.

The same middleware notes every API call (``/v4/...``) in the traffic log, with a few numbers
only, for counting calls and 429s per minute over longer runs than the request log holds.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.asgi import read_body, replaying
from sandbox.clock import iso8601, utc_now
from sandbox.traffic import API_PREFIX, Call, TrafficLog

LOG_PATH = "/_sandbox/requests"
TRAFFIC_PATH = "/_sandbox/traffic"
UNRECORDED_PATHS = frozenset({LOG_PATH, TRAFFIC_PATH})
MASK = "***"

RATE_LIMITED_SCOPE_KEY = "sandbox.rate_limited"
"""Set in a request's scope when it is answered 429 by the rate limit (or the forced fault)."""
KEY_SCOPE_KEY = "sandbox.key"
"""Set in a request's scope to the bucket id of the key that authenticated it."""

_PLATFORM_KEY = re.compile(
    r"(ak_live:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}):"
)


def mask_credential(token: str) -> str:
    """Keep what names a key, hide what proves it: ``ak_live:<uuid>:***``, ``rgo-***``."""
    platform = _PLATFORM_KEY.match(token)
    if platform:
        return f"{platform.group(1)}:{MASK}"
    if token.startswith("rgo-"):
        return f"rgo-{MASK}"
    return MASK


def mask_authorization(value: str) -> str:
    scheme, separator, credential = value.strip().partition(" ")
    if not separator:
        return MASK
    return f"{scheme} {mask_credential(credential.strip())}"


def _mask_entirely(value: str) -> str:
    del value
    return MASK


_MASKED_HEADERS = {
    "authorization": mask_authorization,
    "proxy-authorization": mask_authorization,
    "cookie": _mask_entirely,
}


def _decode_body(raw: bytes) -> object:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed: object = json.loads(text)
    except ValueError:
        return text
    return parsed


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: object
    time: str
    status: int | None = None
    """The answer's status, once one is sent; None while pending or when none ever is."""
    rate_limited: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "path": self.path,
            "query": [list(pair) for pair in self.query],
            "headers": self.headers,
            "body": self.body,
            "time": self.time,
            "status": self.status,
            "rateLimited": self.rate_limited,
        }


def record_of(scope: Scope, body: bytes) -> RecordedRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        masker = _MASKED_HEADERS.get(name)
        if masker is not None:
            value = masker(value)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    query_string = scope.get("query_string", b"").decode("latin-1")
    return RecordedRequest(
        method=scope["method"],
        path=scope["path"],
        query=parse_qsl(query_string, keep_blank_values=True),
        headers=headers,
        body=_decode_body(body),
        time=iso8601(utc_now()),
    )


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[RecordedRequest] = deque(maxlen=size)

    def add(self, entry: RecordedRequest) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def entries(self, path_prefix: str = "") -> list[RecordedRequest]:
        """Oldest first."""
        return [entry for entry in self._entries if entry.path.startswith(path_prefix)]


class RequestRecorder:
    """ASGI middleware: log a request as it arrives, before anything can fail or cut it short;
    note its status and whether it was rate-limited when it is answered."""

    def __init__(self, app: ASGIApp, log: RequestLog, traffic: TrafficLog) -> None:
        self.app = app
        self.log = log
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNRECORDED_PATHS:
            await self.app(scope, receive, send)
            return
        arrived = self.traffic.now()
        body = await read_body(receive)
        entry = record_of(scope, body)
        self.log.add(entry)

        async def noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                entry.rate_limited = bool(scope.get(RATE_LIMITED_SCOPE_KEY))
            await send(message)

        try:
            await self.app(scope, replaying(body, receive), noting_status)
        finally:
            if scope["path"].startswith(API_PREFIX):
                key = scope.get(KEY_SCOPE_KEY)
                self.traffic.add(
                    Call(arrived, entry.status, entry.rate_limited, key if key else None)
                )
