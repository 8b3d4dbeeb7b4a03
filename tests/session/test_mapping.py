"""The user mapping: app user id to meetergo user id, from a reloaded file or the app's endpoint.

The HTTP tests talk to a real uvicorn server over loopback TCP; its routes play the app's endpoint
answering well, badly, slowly or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from app.session.mapping import (
    FILE_CHECK_INTERVAL,
    MAX_RESPONSE_BYTES,
    ClaimOnlyMapping,
    FileMapping,
    HttpMapping,
    UserMappingFileError,
    UserMappingUnavailable,
    build_user_mapping,
    canonical_uuid,
)
from tests.support.servers import RunningServer, serve
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

ALICE = "3f2b8c1e-5d4a-4b6f-9e7d-0a1b2c3d4e5f"
BOB = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
CAROL = "00112233-4455-4677-8899-aabbccddeeff"
SECRET_MARKER = "s3cret-content-marker"  # placed in bad files and bodies; must never be echoed
LOGGER = "app.session.mapping"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- canonical_uuid --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ALICE, ALICE),
        (ALICE.upper(), ALICE),
        (UUID(BOB), BOB),
    ],
)
def test_canonical_uuid_gives_the_lower_case_hyphenated_form(value: object, expected: str) -> None:
    assert canonical_uuid(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        "",
        "not-a-uuid",
        ALICE.replace("-", ""),
        "{" + ALICE + "}",
        "urn:uuid:" + ALICE,
        " " + ALICE,
        ALICE + "\n",
        ALICE[:-1] + "g",
        [ALICE],
    ],
)
def test_canonical_uuid_refuses_anything_else(value: object) -> None:
    assert canonical_uuid(value) is None


# -- claim only ------------------------------------------------------------------------------------


async def test_claim_only_mapping_maps_nobody() -> None:
    mapping = ClaimOnlyMapping()
    assert mapping.source == "claim"
    assert await mapping.lookup("alice") is None


# -- file ------------------------------------------------------------------------------------------


def write(path: Path, text: str, *, mtime_ns: int | None = None) -> None:
    """Write ``text`` and give the file a distinct mtime, as a real later edit would have."""
    path.write_text(text, encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def bump_mtime(path: Path, text: str) -> None:
    write(path, text, mtime_ns=path.stat().st_mtime_ns + 10_000_000_000)


def mapping_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == LOGGER and record.levelno == logging.ERROR
    ]


@pytest.fixture
def json_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    write(path, json.dumps({"alice": ALICE.upper(), "bob": BOB}, indent=2))
    return path


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.csv"
    write(path, f"app_user_id,meetergo_user_id\nalice,{ALICE.upper()}\n\n bob , {BOB}\n")
    return path


async def test_json_file_maps_users_and_normalises_upper_case_uuids(json_file: Path) -> None:
    mapping = FileMapping(json_file)
    assert mapping.source == "file"
    assert await mapping.lookup("alice") == ALICE
    assert await mapping.lookup("bob") == BOB
    assert await mapping.lookup("mallory") is None


async def test_csv_file_maps_users_ignoring_blank_lines_and_padding(csv_file: Path) -> None:
    mapping = FileMapping(csv_file)
    assert await mapping.lookup("alice") == ALICE
    assert await mapping.lookup("bob") == BOB
    assert await mapping.lookup(" bob ") is None
    assert await mapping.lookup("app_user_id") is None


async def test_csv_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "USERS.CSV"
    path.write_bytes(f"\ufeffapp_user_id,meetergo_user_id\r\nalice,{ALICE}\r\n".encode())
    assert await FileMapping(path).lookup("alice") == ALICE


async def test_changed_file_is_reloaded_after_the_check_interval(
    json_file: Path, clock: FakeClock
) -> None:
    mapping = FileMapping(json_file, clock=clock)
    # Same size, new content: only the mtime tells the change.
    bump_mtime(json_file, json.dumps({"alice": CAROL.upper(), "bob": BOB}, indent=2))

    clock.advance(FILE_CHECK_INTERVAL / 2)
    assert await mapping.lookup("alice") == ALICE  # not looked at again within the interval

    clock.advance(FILE_CHECK_INTERVAL / 2)
    assert await mapping.lookup("alice") == CAROL


async def test_changed_csv_file_is_reloaded(csv_file: Path, clock: FakeClock) -> None:
    mapping = FileMapping(csv_file, clock=clock)
    bump_mtime(csv_file, f"app_user_id,meetergo_user_id\ncarol,{CAROL}\n")
    clock.advance(FILE_CHECK_INTERVAL)
    assert await mapping.lookup("carol") == CAROL
    assert await mapping.lookup("alice") is None


GOOD_JSON = json.dumps({"alice": ALICE})
GOOD_CSV = f"app_user_id,meetergo_user_id\nalice,{ALICE}\n"


@dataclass(frozen=True)
class Rewrite:
    name: str
    good: str
    broken: str
    where: str  # what the log line must name


@pytest.mark.parametrize(
    "rewrite",
    [
        Rewrite(
            "users.json",
            GOOD_JSON,
            '{\n  "alice": "' + ALICE + '",\n  "' + SECRET_MARKER + '" ALICE\n}',
            "line 3",
        ),
        Rewrite(
            "users.json",
            GOOD_JSON,
            json.dumps({"alice": ALICE, "bob": SECRET_MARKER}),
            "key 'bob'",
        ),
        Rewrite("users.csv", GOOD_CSV, GOOD_CSV + f"bob,{SECRET_MARKER}\n", "line 3"),
    ],
    ids=["json-syntax", "json-not-uuid", "csv-not-uuid"],
)
async def test_broken_rewrite_keeps_the_previous_mapping_and_logs_the_place_once(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture, rewrite: Rewrite
) -> None:
    path = tmp_path / rewrite.name
    write(path, rewrite.good)
    mapping = FileMapping(path, clock=clock)
    caplog.set_level(logging.INFO, logger=LOGGER)

    bump_mtime(path, rewrite.broken)
    for _ in range(3):
        clock.advance(FILE_CHECK_INTERVAL)
        assert await mapping.lookup("alice") == ALICE
        assert await mapping.lookup("bob") is None

    errors = mapping_errors(caplog)
    assert len(errors) == 1, errors
    assert str(path) in errors[0]
    assert rewrite.where in errors[0]
    assert SECRET_MARKER not in caplog.text

    # Once fixed, the file is picked up again.
    bump_mtime(path, rewrite.good.replace(ALICE, CAROL))
    clock.advance(FILE_CHECK_INTERVAL)
    assert await mapping.lookup("alice") == CAROL


async def test_deleted_file_keeps_the_previous_mapping_and_logs(
    json_file: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    mapping = FileMapping(json_file, clock=clock)
    await anyio.Path(json_file).unlink()
    clock.advance(FILE_CHECK_INTERVAL)
    assert await mapping.lookup("alice") == ALICE
    errors = mapping_errors(caplog)
    assert len(errors) == 1
    assert str(json_file) in errors[0]


async def test_missing_file_at_start_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(UserMappingFileError, match="cannot be read") as caught:
        FileMapping(path)
    assert str(path) in str(caught.value)


def test_file_without_a_known_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    write(path, json.dumps({"alice": ALICE}))
    with pytest.raises(UserMappingFileError, match=r"\.json or \.csv"):
        FileMapping(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.json", "", "line 1 column 1: not valid JSON"),
        ("m.json", '{"alice": "' + ALICE + '",\n"bob" ' + SECRET_MARKER + "}", "line 2"),
        ("m.json", json.dumps([ALICE, SECRET_MARKER]), "expected a JSON object"),
        ("m.json", json.dumps({"alice": SECRET_MARKER}), "key 'alice': the value is not a UUID"),
        ("m.json", json.dumps({"alice": 7}), "key 'alice': the value is not a UUID"),
        ("m.json", json.dumps({"": ALICE}), "an app user id is empty"),
        ("m.json", '{"alice": "' + ALICE + '", "alice": "' + BOB + '"}', "more than once"),
        ("m.csv", "", "line 1: the header must be app_user_id,meetergo_user_id"),
        ("m.csv", f"user,uuid\nalice,{ALICE}\n", "line 1: the header must be"),
        ("m.csv", f"app_user_id,meetergo_user_id\nalice,{SECRET_MARKER}\n", "line 2: meetergo"),
        ("m.csv", f"app_user_id,meetergo_user_id\nalice,{ALICE},x\n", "line 2: expected 2 columns"),
        ("m.csv", f"app_user_id,meetergo_user_id\n,{ALICE}\n", "line 2: app_user_id is empty"),
        (
            "m.csv",
            f"app_user_id,meetergo_user_id\nalice,{ALICE}\nbob,{BOB}\nalice,{CAROL}\n",
            "line 4: app_user_id repeats line 2",
        ),
        ("m.csv", f'app_user_id,meetergo_user_id\n"alice"x,{ALICE}\n', "line 2: not valid CSV"),
    ],
)
def test_bad_file_at_start_raises_naming_the_place_but_not_the_content(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    write(path, content)
    with pytest.raises(UserMappingFileError) as caught:
        FileMapping(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert SECRET_MARKER not in str(caught.value)


def test_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"al\xffice": "' + ALICE.encode() + b'"}')
    with pytest.raises(UserMappingFileError, match="not UTF-8"):
        FileMapping(path)


# -- http: the app's endpoint ----------------------------------------------------------------------

KNOWN = {"alice": ALICE.upper(), "a b&c=d": BOB}
SLOW_SECONDS = 2.0


@dataclass
class Endpoint:
    """What the fake endpoint received: (route, user, every query parameter) per request."""

    calls: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)

    def count(self, route: str, user: str) -> int:
        return sum(1 for r, u, _ in self.calls if (r, u) == (route, user))


async def trickle() -> AsyncIterator[bytes]:
    """A valid answer, padded with whitespace sent more often than any read timeout."""
    yield b'{"meetergoUserId": "' + ALICE.encode() + b'"}'
    for _ in range(int(SLOW_SECONDS / 0.05)):
        await anyio.sleep(0.05)
        yield b" "


def endpoint_app(endpoint: Endpoint) -> Starlette:
    async def answer(request: Request) -> Response:
        route = request.path_params["route"]
        user = request.query_params.get("user", "")
        endpoint.calls.append((route, user, request.query_params.multi_items()))
        if route == "delayed":
            await anyio.sleep(0.2)
        if route in ("map", "delayed"):
            if user not in KNOWN:
                return PlainTextResponse("no such user", status_code=404)
            return JSONResponse({"meetergoUserId": KNOWN[user], "extra": "ignored"})
        if route == "slow":
            await anyio.sleep(SLOW_SECONDS)
            return JSONResponse({"meetergoUserId": ALICE})
        if route == "trickle":
            return StreamingResponse(trickle(), media_type="application/json")
        bad: dict[str, Response] = {
            "null": JSONResponse({"meetergoUserId": None}),
            "fail": PlainTextResponse(SECRET_MARKER, status_code=500),
            "forbidden": PlainTextResponse(SECRET_MARKER, status_code=403),
            "redirect": RedirectResponse("http://127.0.0.1:9/elsewhere", status_code=302),
            "text": PlainTextResponse(f"<html>{SECRET_MARKER}</html>"),
            "shape": JSONResponse({"userId": ALICE, "note": SECRET_MARKER}),
            "array": JSONResponse([ALICE]),
            "not-uuid": JSONResponse({"meetergoUserId": SECRET_MARKER}),
            "number": JSONResponse({"meetergoUserId": 12345}),
            "huge": JSONResponse({"meetergoUserId": ALICE, "pad": "x" * MAX_RESPONSE_BYTES}),
        }
        return bad[route]

    return Starlette(routes=[Route("/{route}", answer)])


@pytest.fixture(scope="module")
def endpoint_server() -> Iterator[tuple[RunningServer, Endpoint]]:
    endpoint = Endpoint()
    with serve(endpoint_app(endpoint)) as server:
        yield server, endpoint


@dataclass
class AppEndpoint:
    """The running endpoint, what it received, and a factory for mappings that call it."""

    url: str
    endpoint: Endpoint
    client: httpx.AsyncClient
    clock: FakeClock

    def count(self, route: str, user: str) -> int:
        return self.endpoint.count(route, user)

    def mapping(
        self,
        path: str,
        *,
        timeout: float = 2.0,
        cache_ttl: float = 300,
        negative_ttl: float | None = None,
    ) -> HttpMapping:
        return HttpMapping(
            f"{self.url}{path}",
            self.client,
            timeout,
            cache_ttl,
            negative_ttl=negative_ttl,
            clock=self.clock,
        )


@pytest.fixture
async def app_endpoint(
    endpoint_server: tuple[RunningServer, Endpoint], clock: FakeClock
) -> AsyncIterator[AppEndpoint]:
    server, endpoint = endpoint_server
    endpoint.calls.clear()
    async with httpx.AsyncClient(trust_env=False) as client:
        yield AppEndpoint(server.url, endpoint, client, clock)


async def test_mapped_user_gets_the_canonical_uuid_from_the_endpoint(
    app_endpoint: AppEndpoint,
) -> None:
    mapping = app_endpoint.mapping("/map")
    assert mapping.source == "http"
    assert await mapping.lookup("alice") == ALICE
    assert app_endpoint.count("map", "alice") == 1


@pytest.mark.parametrize(("route", "user"), [("map", "mallory"), ("null", "alice")])
async def test_404_or_null_means_not_mapped(
    app_endpoint: AppEndpoint, route: str, user: str
) -> None:
    mapping = app_endpoint.mapping(f"/{route}")
    assert await mapping.lookup(user) is None
    assert app_endpoint.count(route, user) == 1


async def test_query_already_on_the_url_is_kept_and_the_user_is_encoded(
    app_endpoint: AppEndpoint,
) -> None:
    mapping = app_endpoint.mapping("/map?tenant=acme&region=eu%20west")
    assert await mapping.lookup("a b&c=d") == BOB
    assert app_endpoint.endpoint.calls == [
        ("map", "a b&c=d", [("tenant", "acme"), ("region", "eu west"), ("user", "a b&c=d")])
    ]


async def test_a_user_parameter_on_the_url_is_replaced_not_repeated(
    app_endpoint: AppEndpoint,
) -> None:
    mapping = app_endpoint.mapping("/map?user=bob&tenant=acme")
    assert await mapping.lookup("alice") == ALICE
    assert app_endpoint.endpoint.calls == [
        ("map", "alice", [("user", "alice"), ("tenant", "acme")])
    ]


async def test_mapped_answer_is_cached_for_the_ttl(app_endpoint: AppEndpoint) -> None:
    mapping = app_endpoint.mapping("/map", cache_ttl=300)
    assert await mapping.lookup("alice") == ALICE
    app_endpoint.clock.advance(299)
    assert await mapping.lookup("alice") == ALICE
    assert app_endpoint.count("map", "alice") == 1

    app_endpoint.clock.advance(1)
    assert await mapping.lookup("alice") == ALICE
    assert app_endpoint.count("map", "alice") == 2


@pytest.mark.parametrize(
    ("cache_ttl", "negative_ttl", "expected"),
    [(300, None, 30), (10, None, 10), (300, 5, 5)],
)
async def test_not_mapped_answer_is_cached_for_a_shorter_time(
    app_endpoint: AppEndpoint, cache_ttl: float, negative_ttl: float | None, expected: float
) -> None:
    mapping = app_endpoint.mapping("/map", cache_ttl=cache_ttl, negative_ttl=negative_ttl)
    assert await mapping.lookup("mallory") is None
    app_endpoint.clock.advance(expected - 0.5)
    assert await mapping.lookup("mallory") is None
    assert app_endpoint.count("map", "mallory") == 1

    app_endpoint.clock.advance(0.5)
    assert await mapping.lookup("mallory") is None
    assert app_endpoint.count("map", "mallory") == 2


async def test_zero_ttl_asks_the_endpoint_every_time(app_endpoint: AppEndpoint) -> None:
    mapping = app_endpoint.mapping("/map", cache_ttl=0)
    for _ in range(3):
        assert await mapping.lookup("alice") == ALICE
        assert await mapping.lookup("mallory") is None
    assert app_endpoint.count("map", "alice") == 3
    assert app_endpoint.count("map", "mallory") == 3


async def test_concurrent_lookups_of_one_user_share_one_request(app_endpoint: AppEndpoint) -> None:
    mapping = app_endpoint.mapping("/delayed")
    results: list[str | None] = []

    async def look() -> None:
        results.append(await mapping.lookup("alice"))

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(look)
    assert results == [ALICE] * 10
    assert app_endpoint.count("delayed", "alice") == 1


async def test_concurrent_lookups_share_one_failure(app_endpoint: AppEndpoint) -> None:
    mapping = app_endpoint.mapping("/fail")
    failures: list[str] = []

    async def look() -> None:
        try:
            await mapping.lookup("alice")
        except UserMappingUnavailable as exc:
            failures.append(str(exc))

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(look)
    assert failures == ["the user mapping endpoint answered HTTP 500"] * 10
    assert app_endpoint.count("fail", "alice") == 1


async def test_a_caller_giving_up_does_not_fail_the_others_waiting(
    app_endpoint: AppEndpoint,
) -> None:
    mapping = app_endpoint.mapping("/delayed")
    results: list[str | None] = []

    async def impatient() -> None:
        with anyio.move_on_after(0.05):
            await mapping.lookup("alice")

    async def patient() -> None:
        await anyio.sleep(0.01)  # arrives while the impatient caller's request is in flight
        results.append(await mapping.lookup("alice"))

    async with anyio.create_task_group() as group:
        group.start_soon(impatient)
        group.start_soon(patient)
    assert results == [ALICE]
    assert app_endpoint.count("delayed", "alice") == 1


async def test_distinct_users_are_not_coalesced(app_endpoint: AppEndpoint) -> None:
    mapping = app_endpoint.mapping("/delayed")
    results: dict[str, str | None] = {}

    async def look(user: str) -> None:
        results[user] = await mapping.lookup(user)

    async with anyio.create_task_group() as group:
        group.start_soon(look, "alice")
        group.start_soon(look, "mallory")
    assert results == {"alice": ALICE, "mallory": None}
    assert app_endpoint.count("delayed", "alice") == 1
    assert app_endpoint.count("delayed", "mallory") == 1


@pytest.mark.parametrize("route", ["slow", "trickle"])
async def test_slow_endpoint_is_unavailable_within_about_the_timeout(
    app_endpoint: AppEndpoint, route: str
) -> None:
    mapping = app_endpoint.mapping(f"/{route}", timeout=0.2)
    started = time.monotonic()
    with pytest.raises(UserMappingUnavailable, match=r"did not answer within 0\.2 s"):
        await mapping.lookup("alice")
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 0.2 + 0.5, elapsed


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("fail", "answered HTTP 500"),
        ("forbidden", "answered HTTP 403"),
        ("redirect", "answered HTTP 302"),
        ("text", "answered HTTP 200 with a body that is not JSON"),
        ("shape", 'answered HTTP 200 without a "meetergoUserId" member'),
        ("array", 'answered HTTP 200 without a "meetergoUserId" member'),
        ("not-uuid", 'answered HTTP 200 with a "meetergoUserId" that is not a UUID'),
        ("number", 'answered HTTP 200 with a "meetergoUserId" that is not a UUID'),
        ("huge", f"answered HTTP 200 with more than {MAX_RESPONSE_BYTES} bytes"),
    ],
)
async def test_bad_answer_is_unavailable_with_a_message_that_omits_the_body(
    app_endpoint: AppEndpoint, route: str, message: str
) -> None:
    mapping = app_endpoint.mapping(f"/{route}")
    with pytest.raises(UserMappingUnavailable) as caught:
        await mapping.lookup("alice")
    assert str(caught.value) == f"the user mapping endpoint {message}"
    assert SECRET_MARKER not in str(caught.value)
    assert app_endpoint.count(route, "alice") == 1


async def test_failures_are_not_cached(app_endpoint: AppEndpoint) -> None:
    mapping = app_endpoint.mapping("/fail")
    for _ in range(2):
        with pytest.raises(UserMappingUnavailable):
            await mapping.lookup("alice")
    assert app_endpoint.count("fail", "alice") == 2


async def test_refused_connection_is_unavailable(clock: FakeClock) -> None:
    # A bound but not listening socket holds the port, so nothing else can answer on it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        async with httpx.AsyncClient(trust_env=False) as client:
            mapping = HttpMapping(f"http://127.0.0.1:{port}/map", client, 2.0, 300, clock=clock)
            with pytest.raises(
                UserMappingUnavailable, match=r"could not be reached \(ConnectError\)"
            ):
                await mapping.lookup("alice")


def test_relative_url_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        HttpMapping("/map", httpx.AsyncClient(), 1.0, 60)


# -- build_user_mapping ----------------------------------------------------------------------------


async def test_settings_choose_the_mapping(json_file: Path) -> None:
    async with httpx.AsyncClient() as client:
        claim = build_user_mapping(make_settings(), client)
        file = build_user_mapping(
            make_settings(user_mapping="file", user_mapping_file=str(json_file)), client
        )
        http = build_user_mapping(
            make_settings(
                user_mapping="http",
                user_mapping_url="https://app.test/map",
                user_mapping_timeout=0.5,
                user_mapping_cache_ttl=60,
            ),
            client,
        )
    assert isinstance(claim, ClaimOnlyMapping)
    assert isinstance(file, FileMapping)
    assert await file.lookup("alice") == ALICE
    assert isinstance(http, HttpMapping)
    assert (claim.source, file.source, http.source) == ("claim", "file", "http")


def test_settings_naming_a_bad_file_stop_the_start(tmp_path: Path) -> None:
    settings = make_settings(user_mapping="file", user_mapping_file=str(tmp_path / "none.csv"))
    with pytest.raises(UserMappingFileError, match=r"none\.csv"):
        build_user_mapping(settings, httpx.AsyncClient())
