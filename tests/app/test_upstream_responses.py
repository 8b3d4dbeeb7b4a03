"""Mapping meetergo's answers: the cases the sandbox cannot be made to produce."""

from __future__ import annotations

import pytest

from app.errors import ProblemError
from app.upstream.call import UpstreamCall, UpstreamResult
from app.upstream.responses import to_response
from app.upstream.table import ROUTES_BY_ID


def _call(operation: str) -> UpstreamCall:
    return UpstreamCall(
        route=ROUTES_BY_ID[operation],
        meetergo_user_id="11111111-1111-4111-8111-111111111111",
        app_user_hash="test",
        path_params={"connectionId": "abc-123", "provider": "google"},
    )


@pytest.mark.parametrize("operation", ["listConnections", "listCalendars", "getAuthUrl"])
def test_a_read_answered_with_an_empty_200_is_a_bad_response(operation: str) -> None:
    with pytest.raises(ProblemError) as caught:
        to_response(_call(operation), UpstreamResult(200, b""))
    assert caught.value.code == "upstream_bad_response"


@pytest.mark.parametrize("operation", ["deleteConnection", "setPrimaryConnection"])
def test_a_write_may_answer_200_without_a_body(operation: str) -> None:
    response = to_response(_call(operation), UpstreamResult(200, b""))
    assert response.status_code == 200
    assert response.body == b""


def test_a_write_answered_204_stays_204() -> None:
    response = to_response(_call("deleteConnection"), UpstreamResult(204, b""))
    assert response.status_code == 204
