"""The service's OpenAPI document is true: schemathesis against the running service.

Real sockets all the way: the service under uvicorn, the meetergo sandbox under uvicorn behind it,
and schemathesis's CLI in its own process calling the service as a signed-in browser would (the
session cookie, ``X-CSRF: 1`` and the app's ``Origin`` on every call). A fixed seed and a bounded
number of cases keep the run reproducible and short; any failed check fails the test, with
schemathesis's report (it prints a curl command that reproduces each failure).

Checks: no server error, every status and content type documented, bodies and headers matching
their schemas. ``endSession`` and ``revokeUserSessions`` (with the management token) end the
session the other operations need, so they run last, on their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.ops.body import MAX_BODY_BYTES
from app.session.tickets import mint_ticket
from sandbox.seed import ALICE_ID, MEMBER_KEY
from tests.proxy.support import running_sandbox
from tests.support.servers import RunningServer, bind_ephemeral, serve
from tests.support.settings import MANAGEMENT_TOKEN, SESSION_KEY, TICKET_SECRET

SEED = 20261130
MAX_EXAMPLES = 12
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    )
)
ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def service() -> Iterator[RunningServer]:
    # meetergo's real limit would turn a fuzzing run into 503 upstream_rate_limited answers.
    with running_sandbox(rate_limit_per_minute=100_000, rate_limit_burst=100_000) as sandbox:
        sock = bind_ephemeral()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = Settings(
            _env_file=None,
            environment="development",
            public_url=url,
            meetergo_base_url=sandbox.url,
            meetergo_api_key=MEMBER_KEY,
            session_keys=[SESSION_KEY],
            ticket_secret=TICKET_SECRET,
            management_token=MANAGEMENT_TOKEN,
        )
        with serve(create_app(settings), sock=sock) as server:
            yield server


def sign_in(base_url: str) -> str:
    """The session cookie of a fresh login, as ``name=value``."""
    ticket = mint_ticket(
        key=TICKET_SECRET,
        algorithm="HS256",
        audience="meetergo-calendar-bff",
        sub="schemathesis-user",
        meetergo_user_id=ALICE_ID,
    )
    response = httpx.post(
        f"{base_url}/auth/session",
        json={"ticket": ticket},
        headers={"X-CSRF": "1", "Origin": base_url},
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith("__Host-Http-mbff_session=")
    return cookie


def schemathesis(base_url: str, workdir: Path, *selection: str) -> None:
    cookie = sign_in(base_url)
    command = [
        str(ST),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        CHECKS,
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-database",
        "none",  # no examples remembered between runs: the seed alone decides
        "--workers",
        "1",  # hypothesis's lambda descriptions are not thread-safe on CPython 3.11 (AST error)
        "--request-timeout",
        "10",
        "--no-color",
        "--header",
        f"Cookie: {cookie}",
        "--header",
        "X-CSRF: 1",
        "--header",
        f"Origin: {base_url}",
        *selection,
    ]
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, env=env, check=False, cwd=workdir
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "No issues found" in report or "passed" in report, report


def test_every_answer_of_every_operation_is_in_the_document(
    service: RunningServer, tmp_path: Path
) -> None:
    # /manage without its token here: schemathesis learns the signed-in user's id from /auth/me
    # and would end the session the rest of the run needs.
    schemathesis(
        service.url,
        tmp_path,
        "--exclude-operation-id",
        "endSession",
    )


def test_operations_that_end_sessions_answer_as_documented(
    service: RunningServer, tmp_path: Path
) -> None:
    schemathesis(
        service.url,
        tmp_path,
        "--include-operation-id",
        "endSession",
        "--include-operation-id",
        "revokeUserSessions",
        "--header",
        f"Authorization: Bearer {MANAGEMENT_TOKEN}",
    )


# -- the refusals before routing, for every guarded operation ---------------------------------
# Schemathesis judges status codes on the cases it means to be valid; the CSRF and body checks
# refuse requests it mostly does not send (no X-CSRF, a chunked body). Each is sent here, to every
# operation it guards, and must be exactly what the document says for that operation.

PATH_VALUES = {"provider": "google", "connectionId": "abc-123", "flow_id": "A" * 22}
UNSAFE = {"post", "put", "patch", "delete"}


def guarded_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in document["paths"].items()
        if path.startswith(("/api/", "/auth/"))
        for method in item
    ]


def refusals(method: str, base_url: str) -> dict[str, dict[str, Any]]:
    """The requests that each middleware refusal answers, by the code expected."""
    guard = {"X-CSRF": "1", "Origin": base_url}
    cases: dict[str, dict[str, Any]] = {"csrf_failed": {"headers": {"Origin": base_url}}}
    if method in UNSAFE:
        cases |= {
            "origin_not_allowed": {"headers": {"X-CSRF": "1", "Origin": "https://evil.test"}},
            "unsupported_media_type": {
                "headers": {**guard, "Content-Type": "text/plain"},
                "content": b"{}",
            },
            "payload_too_large": {
                "headers": {**guard, "Content-Type": "application/json"},
                "content": b" " * (MAX_BODY_BYTES + 1),
            },
            "length_required": {
                "headers": {**guard, "Content-Type": "application/json"},
                "content": iter([b"{}"]),  # a generator: httpx sends it chunked
            },
        }
    return cases


def test_every_refusal_before_routing_is_documented_for_each_operation_it_guards(
    service: RunningServer,
) -> None:
    with httpx.Client(base_url=service.url, trust_env=False, timeout=10) as client:
        document = client.get("/openapi.json").json()
        operations = guarded_operations(document)
        assert len(operations) >= 10
        seen = 0
        for method, template in operations:
            path = template.format(**PATH_VALUES)
            documented = document["paths"][template][method]["responses"]
            for code, request in refusals(method, service.url).items():
                response = client.request(method.upper(), path, **request)
                assert response.json()["code"] == code, (method, path, response.text)
                declared = documented.get(str(response.status_code))
                assert declared is not None, f"{method} {template}: {response.status_code} {code}"
                schema = declared["content"][response.headers["content-type"]]["schema"]
                assert code in schema["properties"]["code"]["enum"], (method, template, code)
                seen += 1
    assert seen >= 30
