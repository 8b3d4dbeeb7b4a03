"""meetergo failing on purpose (the sandbox's faults): the right code, within the deadline.

The service runs with a 1.5 s deadline and a 1 s read timeout; elapsed times are checked loosely
(deadline + 1.5 s). Reads are retried on 502/503/504 and on connection errors, writes never; the
request log counts the attempts.
"""

from __future__ import annotations

import pytest

from tests.proxy.conftest import MakeBff
from tests.proxy.support import (
    DEADLINE,
    OPERATIONS,
    READS,
    TIMING_SLACK,
    WRITES,
    Bff,
    SandboxAdmin,
    assert_problem,
    elapsed_at_most,
    upstream_path,
)
from tests.support.servers import bind_ephemeral

WITHIN_DEADLINE = DEADLINE + TIMING_SLACK


def target_for(operation: str, sandbox: SandboxAdmin) -> str:
    """A real connection for the calls that need one (the faults strike before the API)."""
    return "" if operation in ("getAuthUrl", "listConnections") else sandbox.connect("a@b.example")


# -- hang ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["listConnections", "updateConnection"])
def test_hanging_meetergo_is_upstream_timeout_within_the_deadline(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = target_for(operation, sandbox)
    sandbox.faults(hang=True, hang_seconds=30)

    with elapsed_at_most(WITHIN_DEADLINE):
        response = bff.operation(operation, connection)

    assert_problem(response, 504, "upstream_timeout")
    sandbox.faults()  # cleared: the service's pool recovers from the abandoned connection
    assert bff.operation("listConnections").status_code == 200


@pytest.mark.parametrize("operation", ["listCalendars", "setPrimaryConnection"])
def test_deadline_shorter_than_the_read_timeout_still_ends_the_call(
    make_bff: MakeBff, sandbox: SandboxAdmin, operation: str
) -> None:
    bff = make_bff(upstream_deadline=1.0, upstream_read_timeout=20)
    connection = target_for(operation, sandbox)
    sandbox.faults(hang=True, hang_seconds=30)

    with elapsed_at_most(1.0 + TIMING_SLACK):
        response = bff.operation(operation, connection)

    assert_problem(response, 504, "upstream_timeout")


def test_slow_retries_are_cut_by_the_deadline(make_bff: MakeBff, sandbox: SandboxAdmin) -> None:
    # Each attempt answers 503 after 0.6 s: five retries cannot fit into 1.5 s.
    bff = make_bff(upstream_retries=5)
    sandbox.faults(latency_ms=600, error_rate=1, error_statuses=[503])

    with elapsed_at_most(WITHIN_DEADLINE):
        response = bff.operation("listConnections")

    assert_problem(response, 504, "upstream_timeout")
    assert 1 <= len(sandbox.requests()) <= 3


# -- error statuses, resets, malformed answers ---------------------------------------------------


FIVE_XX = [
    *[(operation, status) for operation in OPERATIONS for status in (500, 503)],
    *[
        (operation, status)
        for operation in ("listConnections", "updateConnection")
        for status in (502, 504)
    ],
]


@pytest.mark.parametrize(("operation", "status"), FIVE_XX)
def test_meetergo_5xx_is_upstream_unavailable_within_the_deadline(
    bff: Bff, sandbox: SandboxAdmin, operation: str, status: int
) -> None:
    connection = target_for(operation, sandbox)
    sandbox.faults(error_rate=1, error_statuses=[status])

    with elapsed_at_most(WITHIN_DEADLINE):
        response = bff.operation(operation, connection)

    assert_problem(response, 502, "upstream_unavailable")
    assert response.headers["retry-after"].isdigit()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_connection_reset_is_upstream_unavailable_within_the_deadline(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = target_for(operation, sandbox)
    sandbox.faults(reset=True)

    with elapsed_at_most(WITHIN_DEADLINE):
        response = bff.operation(operation, connection)

    assert_problem(response, 502, "upstream_unavailable")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_malformed_json_on_a_200_is_upstream_bad_response(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = target_for(operation, sandbox)
    sandbox.faults(malformed_json=True)

    with elapsed_at_most(WITHIN_DEADLINE):
        response = bff.operation(operation, connection)

    assert_problem(response, 502, "upstream_bad_response")
    assert b"connections" not in response.content  # none of meetergo's broken body leaks
    assert len(sandbox.requests()) == 1  # a 200 is an answer: never retried


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
@pytest.mark.parametrize("operation", READS)
def test_read_with_a_one_time_5xx_succeeds_on_the_second_attempt(
    bff: Bff, sandbox: SandboxAdmin, operation: str, status: int
) -> None:
    connection = target_for(operation, sandbox)
    path = upstream_path(operation, connection)
    sandbox.faults(error_rate=1, error_statuses=[status], times=1, paths=[path])

    response = bff.operation(operation, connection)

    assert response.status_code == 200, response.text
    attempts = sandbox.requests()
    assert len(attempts) == 2
    assert attempts[0]["path"] == attempts[1]["path"] == upstream_path(operation, connection)
    assert attempts[0]["headers"]["x-request-id"] == attempts[1]["headers"]["x-request-id"]


@pytest.mark.parametrize("operation", READS)
def test_read_with_a_one_time_reset_succeeds_on_retry(
    bff: Bff, sandbox: SandboxAdmin, operation: str
) -> None:
    connection = target_for(operation, sandbox)
    sandbox.faults(reset=True, times=1, paths=[upstream_path(operation, connection)])

    response = bff.operation(operation, connection)

    assert response.status_code == 200, response.text
    assert len(sandbox.requests()) == 2


@pytest.mark.parametrize("fault", ["503", "reset"])
@pytest.mark.parametrize("operation", WRITES)
def test_write_with_a_one_time_failure_is_not_retried(
    bff: Bff, sandbox: SandboxAdmin, operation: str, fault: str
) -> None:
    connection = target_for(operation, sandbox)
    if fault == "reset":
        sandbox.faults(reset=True, times=1)
    else:
        sandbox.faults(error_rate=1, error_statuses=[503], times=1)

    response = bff.operation(operation, connection)

    assert_problem(response, 502, "upstream_unavailable")
    assert len(sandbox.requests()) == 1
    listed = sandbox.direct("GET", upstream_path("listConnections")).json()["connections"]
    assert [c["id"] for c in listed] == [connection]  # the refused write did not happen


@pytest.mark.parametrize("retries", [0, 1, 3])
@pytest.mark.parametrize("fault", ["503", "reset"])
def test_read_attempts_are_bounded_by_upstream_retries(
    make_bff: MakeBff, sandbox: SandboxAdmin, retries: int, fault: str
) -> None:
    bff = make_bff(upstream_retries=retries, upstream_deadline=10)
    if fault == "reset":
        sandbox.faults(reset=True)
    else:
        sandbox.faults(error_rate=1, error_statuses=[503])

    response = bff.operation("listConnections")

    assert_problem(response, 502, "upstream_unavailable")
    assert len(sandbox.requests()) == 1 + retries


@pytest.mark.parametrize("retries", [0, 3])
def test_write_is_sent_once_whatever_upstream_retries_says(
    make_bff: MakeBff, sandbox: SandboxAdmin, retries: int
) -> None:
    bff = make_bff(upstream_retries=retries, upstream_deadline=10)
    connection = sandbox.connect("alice@gmail.example")
    sandbox.faults(error_rate=1, error_statuses=[503])

    assert_problem(bff.operation("updateConnection", connection), 502, "upstream_unavailable")
    assert len(sandbox.requests()) == 1


@pytest.mark.parametrize("operation", ["listConnections", "updateConnection"])
def test_unreachable_meetergo_is_upstream_unavailable_within_the_deadline(
    make_bff: MakeBff, operation: str
) -> None:
    closed = bind_ephemeral()  # a port that was free a moment ago and refuses connections now
    port = closed.getsockname()[1]
    closed.close()
    bff = make_bff(meetergo_base_url=f"http://127.0.0.1:{port}")

    with elapsed_at_most(WITHIN_DEADLINE):
        response = bff.operation(operation, "conn-1")

    assert_problem(response, 502, "upstream_unavailable")


def test_only_the_faulty_path_fails(bff: Bff, sandbox: SandboxAdmin) -> None:
    connection = sandbox.connect("alice@gmail.example")
    sandbox.faults(error_rate=1, error_statuses=[500], paths=["/calendars"])

    assert_problem(bff.operation("listCalendars", connection), 502, "upstream_unavailable")
    assert bff.operation("listConnections").status_code == 200
