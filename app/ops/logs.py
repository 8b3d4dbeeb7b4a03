"""JSON logs: one object per line, with the request id, and never a secret.

Every record carries the current request id. Each request ends with one access record: method,
route template (never the raw path, which may hold ids), status, latency and the hashed user id.

What may appear in a log line is a promise kept for every logger the process runs, not only ours:

- third-party loggers that would write URLs, headers or bodies (httpx, httpcore, redis,
  uvicorn's access log with its raw paths) are held at ``WARNING`` or switched off, whatever the
  configured level, so an upstream request's URL (a flow token in ``redirectUrl``, a connection
  id in the path) is never written;
- :class:`RedactingFilter` is the second line of defence on every other record: it removes the
  configured secrets, and anything shaped like a bearer token, a signed token (JWT, itsdangerous:
  tickets, cookies, flow tokens), a UUID (connection and meetergo user ids) or a URL's path and
  query, from the message and from every ``extra`` field;
- exceptions are written as their type only: a traceback or an exception's text can quote
  values (an httpx error quotes the URL).

The access line is the one record written for every request, so it has its own cheap path
(:func:`access_line`): its fields are known to be safe (a route template, numbers, a hash, a
catalogued code, a validated request id), so it is encoded once, without the redaction pass.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

from starlette.types import Scope

from app.ops.request_id import current_request_id

ACCESS_LOGGER = "app.access"
# Written at WARNING at most, whatever BFF_LOG_LEVEL says: their INFO and DEBUG records carry
# URLs, headers or bodies.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "redis", "asyncio", "multipart")
# uvicorn's own access log writes the raw request line (flow tokens in callback paths); the
# service writes its own access line instead. Off whatever the level or configuration.
SILENCED_LOGGERS = ("uvicorn.access",)
# Fields whose values the service itself makes safe: not passed through the redaction patterns.
_SAFE_FIELDS = frozenset({"requestId"})
# uvicorn adds color_message (the message with terminal colours) to its records: not for JSON.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "access",
    "color_message",
}
_REDACTED = "[redacted]"
_PATTERNS = (
    # "Bearer <anything>" and "Cookie: name=value" as a whole
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;\"']+"), r"\1 [redacted]"),
    (
        re.compile(r"(?i)\b((?:__host-(?:http-)?)?mbff_\w+|cookie)\s*[=:]\s*[^\s;,\"']+"),
        r"\1=[redacted]",
    ),
    # a URL keeps its scheme and host; its path and query may hold tokens and ids
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s\"'<>?#]+)[/?#][^\s\"'<>]*"), r"\1/[redacted]"),
    # signed tokens: base64url segments joined by dots, ending in a long signature
    (re.compile(r"[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)*\.[A-Za-z0-9_-]{20,}"), _REDACTED),
    # UUIDs: connection ids and meetergo user ids
    (
        re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
        _REDACTED,
    ),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets and without anything shaped like a token or id."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _Clock:
    """ISO 8601 UTC timestamps with milliseconds; the part up to the second is computed once."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def stamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        stamp = self._clock.stamp(record.created)
        access = getattr(record, "access", None)
        if access is not None:  # already encoded by access_line(): fields known to be safe
            return f'{{"time":"{stamp}","level":"info","logger":"{ACCESS_LOGGER}",{access}}}'
        entry: dict[str, Any] = {
            "time": stamp,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["requestId"] = request_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            # The type only: tracebacks and exception texts can quote values (URLs, bodies).
            entry["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(entry, default=str)


class RedactingFilter(logging.Filter):
    """Removes secrets and token-shaped text from every record but the access line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "access", None) is not None:
            return True
        message = record.getMessage()
        redacted = redact(message, self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD or key in _SAFE_FIELDS:
                continue
            if isinstance(value, str):
                setattr(record, key, redact(value, self.secrets))
            elif value is not None and not isinstance(value, bool | int | float):
                setattr(record, key, redact(json.dumps(value, default=str), self.secrets))
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    """JSON lines on stdout for every logger of the process, third-party ones included."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", *SILENCED_LOGGERS, *QUIET_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in SILENCED_LOGGERS:
        logging.getLogger(name).disabled = True
    # None of these is written (see JsonFormatter): not collecting them saves a stack walk and
    # three lookups per record (the logging HOWTO's "Optimization" section).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None


# -- the access line -----------------------------------------------------------------------------

_encoded: dict[object, str] = {}


def _json(value: object) -> str:
    """The JSON text of a string from a small set (methods, route templates, codes), cached."""
    text = _encoded.get(value)
    if text is None:
        text = json.dumps(value)
        if len(_encoded) < 4096:  # bounded: the values come from the route table and catalogue
            _encoded[value] = text
    return text


def access_line(
    *,
    method: str,
    route: str,
    status: int,
    latency_ms: float,
    user: str | None,
    code: str | None,
    request_id: str | None,
) -> str:
    """The access record's fields as a JSON fragment (``"message":..., ...``), without braces.

    The request id has passed request_id's check (URL-safe characters only) and the user is a
    hex hash (app.session.identity.user_hash): neither needs escaping. The rest is encoded once
    per distinct value.
    """
    rid = f',"requestId":"{request_id}"' if request_id else ""
    who = f'"{user}"' if user else "null"
    return (
        f'"message":"request"{rid},"method":{_json(method)},"route":{_json(route)}'
        f',"status":{status},"latencyMs":{latency_ms},"user":{who},"code":{_json(code)}'
    )


def route_template(scope: Scope) -> str:
    """The matched route's template (``/connections/{connectionId}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path:
        return str(path)
    mount = scope.get("root_path")  # static files under a mount: one label for the mount
    return f"{mount}/{{path}}" if mount else "unmatched"
