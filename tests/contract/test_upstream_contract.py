"""The upstream contract: a valid document that records every gap in what we know.

The tests against the running sandbox live in test_sandbox_conforms.py.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import httpx
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tests.contract.upstream_contract import (
    SANDBOX_DOC_PATH,
    ContractViolationError,
    UpstreamContract,
    iter_extension,
    iter_operations,
    load_contract,
    resolve,
)

# Renaming one of these breaks every generated client and every log query: change deliberately.
STABLE_OPERATION_IDS = {
    ("get", "/v4/calendar-connections/auth/{provider}/url"): "getCalendarAuthUrl",
    ("get", "/v4/calendar-connections/connections"): "listCalendarConnections",
    (
        "get",
        "/v4/calendar-connections/connections/{connectionId}/calendars",
    ): "listConnectionCalendars",
    ("patch", "/v4/calendar-connections/connections/{connectionId}"): "updateCalendarConnection",
    ("delete", "/v4/calendar-connections/connections/{connectionId}"): "deleteCalendarConnection",
    (
        "post",
        "/v4/calendar-connections/connections/{connectionId}/set-primary",
    ): "setPrimaryCalendarConnection",
}

SANDBOXLIKE = "http://127.0.0.1:8001"

OPERATIONS = sorted(STABLE_OPERATION_IDS)

ERROR_STATUSES = {"400", "401", "403", "404", "429", "500", "502", "503"}

# One phrase per numbered assumption of docs/sandbox.md. It must occur both in the assumption's
# text and in an x-open-question tagged with its number, so that renumbering the list in the doc
# without updating the contract fails here instead of silently pointing at the wrong place.
ASSUMPTION_PHRASES = {
    1: "refuse",
    2: "editable",
    3: "has none",
    4: "oldest remaining",
    5: "updated connection",
    6: "authenticated requests",
    7: "absolute http(s)",
    8: "not 403",
    9: "restores",
}


@pytest.fixture
def contract() -> dict[str, Any]:
    return load_contract()


def _parameters(
    contract: dict[str, Any], path: str, operation: dict[str, Any]
) -> set[tuple[str, str]]:
    declared = [*contract["paths"][path].get("parameters", []), *operation.get("parameters", [])]
    return {(p["in"], p["name"]) for p in (resolve(contract, d) for d in declared)}


def _sandbox_assumptions() -> dict[int, str]:
    """The numbered list under the "Assumptions" heading of docs/sandbox.md."""
    text = SANDBOX_DOC_PATH.read_text(encoding="utf-8")
    _, found, section = text.partition("\n## Assumptions")
    assert found, "docs/sandbox.md has no '## Assumptions' section"
    section = section.split("\n## ", 1)[0]
    items: dict[int, str] = {}
    current: int | None = None
    for line in section.splitlines():
        numbered = re.match(r"^(\d+)\.\s+(.*)", line)
        if numbered:
            current = int(numbered.group(1))
            items[current] = numbered.group(2)
        elif current is not None and line.startswith("   ") and line.strip():
            items[current] += " " + line.strip()
    return items


def test_document_is_valid_openapi_3_1(contract: dict[str, Any]) -> None:
    assert contract["openapi"].startswith("3.1.")
    validate(contract)


def test_validator_rejects_a_broken_copy(contract: dict[str, Any]) -> None:
    # Guards the test above: the validator really reads the document as 3.1 and checks it.
    listing = contract["paths"]["/v4/calendar-connections/connections"]["get"]
    del listing["responses"]["200"]["description"]  # required on every Response Object
    with pytest.raises(OpenAPIValidationError):
        validate(contract)


def test_operation_ids_are_unique_and_stable(contract: dict[str, Any]) -> None:
    found = {(method, path): op["operationId"] for method, path, op in iter_operations(contract)}
    assert found == STABLE_OPERATION_IDS
    ids = [op["operationId"] for _, _, op in iter_operations(contract)]
    assert len(ids) == len(set(ids))


def test_meetergo_is_the_only_server(contract: dict[str, Any]) -> None:
    assert [server["url"] for server in contract["servers"]] == ["https://api.meetergo.com"]


def test_bearer_auth_describes_both_kinds_of_key(contract: dict[str, Any]) -> None:
    scheme = contract["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "ak_live:" in scheme["description"]
    assert "rgo-" in scheme["description"]
    assert contract["security"] == [{"bearerAuth": []}]


@pytest.mark.parametrize(
    ("method", "path"), OPERATIONS, ids=[STABLE_OPERATION_IDS[key] for key in OPERATIONS]
)
def test_every_operation_takes_the_user_header_and_the_admin_user_id(
    contract: dict[str, Any], method: str, path: str
) -> None:
    operation = contract["paths"][path][method]
    params = _parameters(contract, path, operation)
    assert ("header", "x-meetergo-api-user-id") in params
    assert ("query", "userId") in params
    user_id = next(
        resolve(contract, p)
        for p in contract["paths"][path]["parameters"]
        if resolve(contract, p)["name"] == "userId"
    )
    assert user_id["required"] is False
    assert "admin only" in user_id["description"].lower()


@pytest.mark.parametrize(
    ("method", "path"), OPERATIONS, ids=[STABLE_OPERATION_IDS[key] for key in OPERATIONS]
)
def test_every_operation_documents_the_error_statuses(
    contract: dict[str, Any], method: str, path: str
) -> None:
    responses = contract["paths"][path][method]["responses"]
    assert set(responses) >= ERROR_STATUSES
    for status in ERROR_STATUSES:
        body = resolve(contract, responses[status])["content"]["application/json"]["schema"]
        assert {"$ref": "#/components/schemas/Error"} in body["allOf"], status
        assert body["allOf"][1]["properties"]["statusCode"] == {"const": int(status)}


def test_delete_answers_no_content(contract: dict[str, Any]) -> None:
    deleted = contract["paths"]["/v4/calendar-connections/connections/{connectionId}"]["delete"]
    assert "content" not in deleted["responses"]["204"]


def test_error_message_is_a_string_or_a_list_of_strings(contract: dict[str, Any]) -> None:
    error = contract["components"]["schemas"]["Error"]
    assert error["properties"]["message"]["oneOf"] == [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
    ]
    assert error["properties"]["errors"]["items"]["required"] == ["field", "message"]
    assert "errors" not in error["required"]


def test_update_body_fields_are_all_optional(contract: dict[str, Any]) -> None:
    body = contract["components"]["schemas"]["UpdateConnection"]
    assert "required" not in body
    assert {name: field.get("type") for name, field in body["properties"].items()} == {
        "primaryCalendar": "string",
        "selectedCalendars": "array",
        "validateAvailability": "boolean",
        "cancelIfDeclinedOrDeleted": "boolean",
        "disableAttendeeNotification": "boolean",
        "syncBuffersToCalendar": "boolean",
    }


def test_provider_enum_is_meetergos(contract: dict[str, Any]) -> None:
    assert contract["components"]["schemas"]["Provider"]["enum"] == [
        "google",
        "outlook",
        "icloud",
        "caldav",
        "exchange",
        "smart-we",
        "ics",
    ]


def test_oauth_redirect_results_cover_both_variants(contract: dict[str, Any]) -> None:
    results = contract["x-oauth-redirect-results"]
    current, legacy = results["variants"]["current"], results["variants"]["legacy"]
    assert set(current["success"]["parameters"]) == {"success", "provider", "connectionId"}
    assert set(current["error"]["parameters"]) == {"error", "provider", "message"}
    assert set(legacy["success"]["parameters"]) == {"success", "provider", "connection_id"}
    assert set(legacy["error"]["parameters"]) == {"success", "provider", "error"}
    assert "%2520" in current["error"]["example"]
    assert "twice" in results["description"]


def test_every_open_question_says_something(contract: dict[str, Any]) -> None:
    questions = list(iter_extension(contract, "x-open-question"))
    assert len(questions) >= 10
    for where, text, _ in questions:
        assert isinstance(text, str), where
        assert len(text.strip()) >= 20, where


def test_assumption_numbers_sit_next_to_an_open_question(contract: dict[str, Any]) -> None:
    for where, value, holder in iter_extension(contract, "x-assumption"):
        assert "x-open-question" in holder, where
        numbers = value if isinstance(value, list) else [value]
        assert numbers, where
        assert all(isinstance(n, int) for n in numbers), where


def test_every_sandbox_assumption_is_an_open_question(contract: dict[str, Any]) -> None:
    assumptions = _sandbox_assumptions()
    assert sorted(assumptions) == list(range(1, len(assumptions) + 1)), "numbering has gaps"
    assert set(assumptions) == set(ASSUMPTION_PHRASES), (
        "docs/sandbox.md lists other assumptions than ASSUMPTION_PHRASES: mark the new ones "
        "x-open-question with an x-assumption number in the contract, and add a phrase here"
    )
    questions_by_number: dict[int, list[str]] = {n: [] for n in assumptions}
    for where, numbers, holder in iter_extension(contract, "x-assumption"):
        for number in numbers if isinstance(numbers, list) else [numbers]:
            assert number in questions_by_number, f"{where} names unknown assumption {number}"
            questions_by_number[number].append(holder["x-open-question"].lower())
    for number, phrase in ASSUMPTION_PHRASES.items():
        assert phrase in assumptions[number].lower(), (number, assumptions[number])
        assert any(phrase in question for question in questions_by_number[number]), (
            f"no x-open-question with x-assumption {number} mentions {phrase!r}"
        )


# The checker that the sandbox tests rely on must itself refuse what the contract does not
# describe; a fake upstream (the only place where one is right) serves each kind of breach.
_CONNECTION = {
    "id": "c-1",
    "provider": "google",
    "email": "a@example.test",
    "isPrimary": True,
    "isConnected": True,
    "createdAt": "2025-01-01T00:00:00Z",
    "futureField": {"kept": True},
}
_TOO_MANY = {"statusCode": 429, "message": "Too Many Requests"}


class FakeAnswer(NamedTuple):
    method: str
    path: str
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


@pytest.mark.parametrize(
    ("answer", "documented"),
    [
        pytest.param(
            FakeAnswer("GET", "/connections", 200, {"connections": [_CONNECTION], "total": 1}),
            True,
            id="list with an unknown field",
        ),
        pytest.param(
            FakeAnswer("GET", "/connections", 200, {"connections": [_CONNECTION]}),
            False,
            id="list without total",
        ),
        pytest.param(
            FakeAnswer(
                "GET",
                "/connections",
                200,
                {"connections": [{**_CONNECTION, "isPrimary": "yes"}], "total": 1},
            ),
            False,
            id="isPrimary not a boolean",
        ),
        pytest.param(
            FakeAnswer(
                "GET",
                "/connections",
                200,
                {"connections": [{**_CONNECTION, "createdAt": "yesterday"}], "total": 1},
            ),
            False,
            id="createdAt not a date-time",
        ),
        pytest.param(
            FakeAnswer("GET", "/connections", 418, {"statusCode": 418, "message": "teapot"}),
            False,
            id="undocumented status",
        ),
        pytest.param(
            FakeAnswer("GET", "/connections", 401, {"statusCode": 403, "message": "Invalid"}),
            False,
            id="statusCode differs from the status",
        ),
        pytest.param(
            FakeAnswer("GET", "/connections", 400, {"statusCode": 400, "message": ["a", 1]}),
            False,
            id="message list with a number",
        ),
        pytest.param(
            FakeAnswer("GET", "/connections", 429, _TOO_MANY, (("Retry-After", "5"),)),
            True,
            id="Retry-After in seconds",
        ),
        pytest.param(
            FakeAnswer("GET", "/connections", 429, _TOO_MANY, (("Retry-After", "soon"),)),
            False,
            id="Retry-After unreadable",
        ),
        pytest.param(
            FakeAnswer("GET", "/auth/google/url", 200, {"authUrl": "/x", "provider": "google"}),
            False,
            id="authUrl relative",
        ),
        pytest.param(
            FakeAnswer(
                "GET", "/auth/google/url", 200, {"authUrl": "https://a.test/", "provider": "yahoo"}
            ),
            False,
            id="provider outside the enum",
        ),
        pytest.param(FakeAnswer("DELETE", "/connections/c-1", 204), True, id="delete 204"),
        pytest.param(
            FakeAnswer("POST", "/connections/c-1/set-primary", 200),
            False,
            id="set-primary 200 without a body",
        ),
    ],
)
def test_checker_refuses_what_the_contract_does_not_describe(
    answer: FakeAnswer, documented: bool
) -> None:
    def upstream(_: httpx.Request) -> httpx.Response:
        if answer.body is None:
            return httpx.Response(answer.status, headers=answer.headers)
        return httpx.Response(answer.status, json=answer.body, headers=answer.headers)

    checker = UpstreamContract()
    with httpx.Client(transport=httpx.MockTransport(upstream), base_url=SANDBOXLIKE) as client:
        response = client.request(
            answer.method,
            "/v4/calendar-connections" + answer.path,
            headers={"Authorization": "Bearer k"},
        )
    if documented:
        checker.check_response(response)
    else:
        with pytest.raises(ContractViolationError):
            checker.check_response(response)
