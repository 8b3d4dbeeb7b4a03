"""Which meetergo user an app user is.

A login ticket's ``meetergo_user_id`` claim always wins; the login code handles it. When the claim
is absent, the configured :class:`UserMapping` answers:

* ``claim``: nobody else maps (:class:`ClaimOnlyMapping`);
* ``file``: a JSON or CSV file, reloaded when it changes (:class:`FileMapping`);
* ``http``: the app's own endpoint, cached and coalesced (:class:`HttpMapping`).

Exception tree::

    UserMappingFileError      the mapping file cannot be used (raised at start-up, logged on reload)
    UserMappingUnavailable    the endpoint gave no usable answer; the user cannot be mapped now

Messages name the file, the line or key, the failure and the HTTP status, never a file's content or
a response body, so they are safe for the operator log.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import anyio
import anyio.to_thread
import httpx

from app.config import Settings

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

FILE_CHECK_INTERVAL = 1.0  # seconds between two looks at the mapping file's mtime and size
NEGATIVE_TTL_CAP = 30.0  # a "not mapped" answer is cached at most this long
MAX_RESPONSE_BYTES = 16 * 1024  # an answer is a few dozen bytes; more is a misconfigured endpoint
MAX_CACHED_USERS = 10_000
CSV_HEADER = ("app_user_id", "meetergo_user_id")

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class UserMappingFileError(Exception):
    """The mapping file is missing, unreadable, or not a valid mapping."""


class UserMappingUnavailable(Exception):
    """The mapping endpoint failed; whether the user is mapped is unknown."""


class UserMapping(Protocol):
    """Maps an app user id (a ticket's ``sub``) to a meetergo user id."""

    source: str

    async def lookup(self, app_user_id: str) -> str | None:
        """The canonical meetergo user id, or None when the user is not mapped."""
        ...


def canonical_uuid(value: object) -> str | None:
    """``value`` as a lower-case hyphenated UUID, or None when it is not one.

    Only the 8-4-4-4-12 hex form is accepted: braces, ``urn:uuid:`` and bare hex are refused, so
    every source agrees on what a meetergo user id looks like.
    """
    if isinstance(value, UUID):
        return str(value)
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        return None
    return value.lower()


class ClaimOnlyMapping:
    """Only the ticket's claim maps users: every lookup answers "not mapped"."""

    source = "claim"

    async def lookup(self, app_user_id: str) -> str | None:
        return None


# -- file ------------------------------------------------------------------------------------------

_Signature = tuple[int, int] | None  # (mtime in ns, size); None when the file cannot be stat'ed


def _parse_json(text: str, name: str) -> dict[str, str]:
    def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise UserMappingFileError(f"{name}: key {_shown(key)} appears more than once")
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=unique_pairs)
    except json.JSONDecodeError as exc:
        # exc.msg is the parser's description ("Expecting ',' delimiter"), never the document.
        raise UserMappingFileError(
            f"{name}: line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise UserMappingFileError(f"{name}: expected a JSON object of app user id to UUID")
    mapping: dict[str, str] = {}
    for key, value in data.items():
        if not key:
            raise UserMappingFileError(f"{name}: an app user id is empty")
        uuid = canonical_uuid(value)
        if uuid is None:
            raise UserMappingFileError(f"{name}: key {_shown(key)}: the value is not a UUID")
        mapping[key] = uuid
    return mapping


def _parse_csv(text: str, name: str) -> dict[str, str]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    try:
        header = next(reader, None)
        if header is None or tuple(cell.strip() for cell in header) != CSV_HEADER:
            raise UserMappingFileError(f"{name}: line 1: the header must be {','.join(CSV_HEADER)}")
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != 2:
                raise UserMappingFileError(
                    f"{name}: line {line}: expected 2 columns, got {len(row)}"
                )
            app_user_id, value = row[0].strip(), row[1].strip()
            if not app_user_id:
                raise UserMappingFileError(f"{name}: line {line}: app_user_id is empty")
            if app_user_id in first_line:
                raise UserMappingFileError(
                    f"{name}: line {line}: app_user_id repeats line {first_line[app_user_id]}"
                )
            uuid = canonical_uuid(value)
            if uuid is None:
                raise UserMappingFileError(f"{name}: line {line}: meetergo_user_id is not a UUID")
            mapping[app_user_id] = uuid
            first_line[app_user_id] = line
    except csv.Error as exc:
        raise UserMappingFileError(
            f"{name}: line {reader.line_num}: not valid CSV ({exc})"
        ) from None
    return mapping


_PARSERS: dict[str, Callable[[str, str], dict[str, str]]] = {
    ".json": _parse_json,
    ".csv": _parse_csv,
}


def _shown(key: str) -> str:
    """A key as it may appear in a log line: quoted, escaped, and short."""
    return repr(key if len(key) <= 64 else key[:64] + "...")


def _stat_signature(path: Path) -> _Signature:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _load(path: Path) -> tuple[_Signature, dict[str, str]]:
    parse = _PARSERS[path.suffix.lower()]
    try:
        with path.open("rb") as file:
            stat = os.fstat(file.fileno())
            raw = file.read()
    except OSError as exc:
        raise UserMappingFileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserMappingFileError(f"{path}: is not UTF-8 text") from None
    return (stat.st_mtime_ns, stat.st_size), parse(text, str(path))


class FileMapping:
    """A JSON (``{"app-user-id": "uuid"}``) or CSV (``app_user_id,meetergo_user_id``) file.

    The format follows the extension. The file is read once here, so a missing or bad file stops
    the service at start-up with :class:`UserMappingFileError`. Afterwards its mtime and size are
    checked at most once per :data:`FILE_CHECK_INTERVAL`; a changed file is re-read, and one that
    fails to parse is logged and ignored, keeping the last good mapping.
    """

    source = "file"

    def __init__(self, path: str | os.PathLike[str], clock: Clock = time.monotonic) -> None:
        self._path = Path(path)
        if self._path.suffix.lower() not in _PARSERS:
            raise UserMappingFileError(
                f"{self._path}: the mapping file must end in .json or .csv to say its format"
            )
        self._clock = clock
        self._signature, self._mapping = _load(self._path)
        self._checked_at = clock()
        self._checking = False

    async def lookup(self, app_user_id: str) -> str | None:
        await self._check_if_due()
        return self._mapping.get(app_user_id)

    async def _check_if_due(self) -> None:
        now = self._clock()
        if self._checking or now - self._checked_at < FILE_CHECK_INTERVAL:
            return
        self._checked_at = now
        self._checking = True  # lookups arriving meanwhile use the current mapping
        try:
            await anyio.to_thread.run_sync(self._reload_if_changed)
        finally:
            self._checking = False

    def _reload_if_changed(self) -> None:
        signature = _stat_signature(self._path)
        if signature == self._signature:
            return
        try:
            self._signature, self._mapping = _load(self._path)
        except UserMappingFileError as exc:
            # Remember the bad version so that it is reported once, not every second.
            self._signature = signature
            logger.error("user mapping file not reloaded, keeping the previous mapping: %s", exc)
        else:
            logger.info("user mapping file %s reloaded: %d users", self._path, len(self._mapping))


# -- http ------------------------------------------------------------------------------------------


class _Pending:
    """One request to the endpoint that concurrent lookups of the same user wait for."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: str | None = None
        self.failure: str | None = "the lookup ended without an answer"


class HttpMapping:
    """The app's endpoint: ``GET <url>?user=<id>`` answers ``{"meetergoUserId": uuid | null}``.

    A 404 also means "not mapped". Answers are cached, "mapped" for ``cache_ttl`` seconds and "not
    mapped" for ``negative_ttl`` (default: ``min(cache_ttl, 30)``); failures are not cached.
    Concurrent lookups of one user share one request. Anything but a well-formed answer within
    ``timeout`` seconds raises :class:`UserMappingUnavailable`.
    """

    source = "http"

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        timeout: float,
        cache_ttl: float,
        *,
        negative_ttl: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._url = httpx.URL(url)
        if self._url.scheme not in ("http", "https") or not self._url.host:
            raise ValueError("the user mapping URL must be an absolute http(s) URL")
        self._client = client
        self._timeout = timeout
        self._cache_ttl = cache_ttl
        self._negative_ttl = (
            min(cache_ttl, NEGATIVE_TTL_CAP) if negative_ttl is None else negative_ttl
        )
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._pending: dict[str, _Pending] = {}

    async def lookup(self, app_user_id: str) -> str | None:
        cached = self._cache.get(app_user_id)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        pending = self._pending.get(app_user_id)
        if pending is None:
            pending = self._pending[app_user_id] = _Pending()
            try:
                # Shielded so that a caller who gives up does not fail the others waiting on this
                # request; the timeout still bounds it.
                with anyio.CancelScope(shield=True):
                    pending.result = await self._fetch(app_user_id)
                    pending.failure = None
                    self._remember(app_user_id, pending.result)
            except UserMappingUnavailable as exc:
                pending.failure = str(exc)
            finally:
                del self._pending[app_user_id]
                pending.done.set()
        else:
            await pending.done.wait()
        if pending.failure is not None:
            raise UserMappingUnavailable(pending.failure)
        return pending.result

    def _remember(self, app_user_id: str, result: str | None) -> None:
        ttl = self._cache_ttl if result is not None else self._negative_ttl
        if ttl <= 0:
            return
        now = self._clock()
        if len(self._cache) >= MAX_CACHED_USERS:
            self._cache = {key: entry for key, entry in self._cache.items() if entry[0] > now}
            while len(self._cache) >= MAX_CACHED_USERS:
                del self._cache[next(iter(self._cache))]  # the oldest entry
        self._cache.pop(app_user_id, None)
        self._cache[app_user_id] = (now + ttl, result)

    async def _fetch(self, app_user_id: str) -> str | None:
        url = self._url.copy_set_param("user", app_user_id)
        try:
            with anyio.fail_after(self._timeout):  # a total deadline, not httpx's per-read one
                async with self._client.stream(
                    "GET",
                    url,
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                    follow_redirects=False,
                ) as response:
                    status = response.status_code
                    body = await _read_capped(response) if status == 200 else b""
        except (TimeoutError, httpx.TimeoutException):
            raise UserMappingUnavailable(
                f"the user mapping endpoint did not answer within {self._timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise UserMappingUnavailable(
                f"the user mapping endpoint could not be reached ({type(exc).__name__})"
            ) from exc
        if status == 404:
            return None
        if status != 200:
            raise UserMappingUnavailable(f"the user mapping endpoint answered HTTP {status}")
        return _parse_answer(body)


async def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise UserMappingUnavailable(
                f"the user mapping endpoint answered HTTP 200 with more than {MAX_RESPONSE_BYTES} "
                "bytes"
            )
    return bytes(body)


def _parse_answer(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise UserMappingUnavailable(
            "the user mapping endpoint answered HTTP 200 with a body that is not JSON"
        ) from None
    if not isinstance(data, dict) or "meetergoUserId" not in data:
        raise UserMappingUnavailable(
            'the user mapping endpoint answered HTTP 200 without a "meetergoUserId" member'
        )
    value = data["meetergoUserId"]
    if value is None:
        return None
    uuid = canonical_uuid(value)
    if uuid is None:
        raise UserMappingUnavailable(
            'the user mapping endpoint answered HTTP 200 with a "meetergoUserId" that is not a UUID'
        )
    return uuid


def build_user_mapping(settings: Settings, client: httpx.AsyncClient) -> UserMapping:
    """The mapping that ``settings`` ask for; a bad mapping file stops the service here.

    ``client`` is used only in ``http`` mode, with absolute URLs; it must not carry meetergo
    credentials as default headers, since requests go to the app's endpoint.
    """
    if settings.user_mapping == "file":
        if not settings.user_mapping_file:
            raise ValueError("user_mapping is 'file' but no user_mapping_file is set")
        return FileMapping(settings.user_mapping_file)
    if settings.user_mapping == "http":
        if not settings.user_mapping_url:
            raise ValueError("user_mapping is 'http' but no user_mapping_url is set")
        return HttpMapping(
            settings.user_mapping_url,
            client,
            timeout=settings.user_mapping_timeout,
            cache_ttl=settings.user_mapping_cache_ttl,
        )
    return ClaimOnlyMapping()
