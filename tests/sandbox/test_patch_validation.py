"""PATCH validation as NestJS's ValidationPipe reports it, in both message forms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox.support import (
    CONNECTIONS,
    IsolatedSettings,
    Sandbox,
    nest,
    running_sandbox,
)


@pytest.fixture(scope="module", params=["list", "string"])
def form_sandbox_server(request: pytest.FixtureRequest, landing_url: str) -> Iterator[Sandbox]:
    settings = IsolatedSettings(validation_message_form=request.param)
    with running_sandbox(settings, landing_url) as sandbox:
        yield sandbox


@pytest.fixture
def form_sandbox(form_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    assert form_sandbox_server.client().post("/_sandbox/reset").status_code == 204
    yield form_sandbox_server
    form_sandbox_server.close_clients()


def form_of(sandbox: Sandbox) -> str:
    form: str = sandbox.app.state.sandbox.settings.validation_message_form
    return form


def validation_body(form: str, errors: list[tuple[str, str]]) -> dict[str, object]:
    """What a 400 from the ValidationPipe looks like in the sandbox's configured form."""
    if form == "list":
        return nest(400, [message for _, message in errors], "Bad Request")
    body = nest(400, "Validation failed", "Bad Request")
    body["errors"] = [{"field": field, "message": message} for field, message in errors]
    return body


def new_connection(sandbox: Sandbox) -> tuple[httpx.Client, dict[str, Any]]:
    api = sandbox.api()
    return api, sandbox.connect(api)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"primaryCalendar": 5}, [("primaryCalendar", "primaryCalendar must be a string")]),
        (
            {"primaryCalendar": ["primary"]},
            [("primaryCalendar", "primaryCalendar must be a string")],
        ),
        (
            {"selectedCalendars": "primary"},
            [("selectedCalendars", "selectedCalendars must be an array")],
        ),
        (
            {"selectedCalendars": ["primary", 7]},
            [("selectedCalendars", "each value in selectedCalendars must be a string")],
        ),
        (
            {"validateAvailability": "false"},
            [("validateAvailability", "validateAvailability must be a boolean value")],
        ),
        (
            {"cancelIfDeclinedOrDeleted": 0},
            [("cancelIfDeclinedOrDeleted", "cancelIfDeclinedOrDeleted must be a boolean value")],
        ),
        (
            {"disableAttendeeNotification": "yes"},
            [
                (
                    "disableAttendeeNotification",
                    "disableAttendeeNotification must be a boolean value",
                )
            ],
        ),
        (
            {"syncBuffersToCalendar": 1},
            [("syncBuffersToCalendar", "syncBuffersToCalendar must be a boolean value")],
        ),
        ({"foo": 1}, [("foo", "property foo should not exist")]),
        ({"isPrimary": True}, [("isPrimary", "property isPrimary should not exist")]),
        (
            {"primaryCalendar": 1, "bar": True, "validateAvailability": None},
            [
                ("primaryCalendar", "primaryCalendar must be a string"),
                ("bar", "property bar should not exist"),
            ],
        ),
    ],
    ids=[
        "number-for-string",
        "list-for-string",
        "string-for-array",
        "number-in-array",
        "string-for-boolean",
        "number-for-boolean",
        "word-for-boolean",
        "one-for-boolean",
        "unknown-field",
        "read-only-field",
        "several-at-once",
    ],
)
def test_a_patch_body_that_breaks_the_dto_is_refused_and_changes_nothing(
    form_sandbox: Sandbox, body: dict[str, object], errors: list[tuple[str, str]]
) -> None:
    api, connection = new_connection(form_sandbox)
    response = api.patch(f"{CONNECTIONS}/{connection['id']}", json=body)
    assert response.status_code == 400
    assert response.json() == validation_body(form_of(form_sandbox), errors)
    assert api.get(CONNECTIONS).json()["connections"] == [connection]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"primaryCalendar": "nobody@group.calendar.google.com"},
            [("primaryCalendar", "primaryCalendar must be a calendar of this connection")],
        ),
        (
            {"selectedCalendars": ["primary", "missing"]},
            [
                (
                    "selectedCalendars",
                    "selectedCalendars must only contain calendars of this connection",
                )
            ],
        ),
        (
            {"primaryCalendar": "en.german#holiday@group.v.calendar.google.com"},
            [("primaryCalendar", "primaryCalendar must be a calendar that can be edited")],
        ),
    ],
    ids=["unknown-primary", "unknown-selected", "read-only-primary"],
)
def test_calendar_ids_must_belong_to_the_connection_and_the_primary_must_be_editable(
    form_sandbox: Sandbox, body: dict[str, object], errors: list[tuple[str, str]]
) -> None:
    api, connection = new_connection(form_sandbox)
    response = api.patch(f"{CONNECTIONS}/{connection['id']}", json=body)
    assert response.status_code == 400
    assert response.json() == validation_body(form_of(form_sandbox), errors)
    assert api.get(CONNECTIONS).json()["connections"] == [connection]


def test_the_read_only_calendar_may_still_be_selected(form_sandbox: Sandbox) -> None:
    api, connection = new_connection(form_sandbox)
    holidays = "en.german#holiday@group.v.calendar.google.com"
    response = api.patch(
        f"{CONNECTIONS}/{connection['id']}", json={"selectedCalendars": [holidays]}
    )
    assert response.status_code == 200
    assert response.json()["selectedCalendars"] == [holidays]


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"[]", "application/json", "Request body must be a JSON object"),
        (b'["primaryCalendar"]', "application/json", "Request body must be a JSON object"),
        (b'"primary"', "application/json", "Request body must be a JSON object"),
        (b"42", "application/json", "Request body must be a JSON object"),
        (b"null", "application/json", "Request body must be a JSON object"),
        (b'{"primaryCalendar": ', "application/json", "Request body must be JSON"),
        (b'{"validateAvailability": false}', "text/plain", "Request body must be JSON"),
    ],
    ids=["array", "array-of-names", "string", "number", "null", "truncated", "not-json-type"],
)
def test_a_body_that_is_not_a_json_object_is_refused_in_both_forms(
    form_sandbox: Sandbox, content: bytes, content_type: str, message: str
) -> None:
    api, connection = new_connection(form_sandbox)
    response = api.patch(
        f"{CONNECTIONS}/{connection['id']}", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400
    assert body["error"] == "Bad Request"
    assert body["message"].startswith(message)


def test_the_body_is_validated_before_the_connection_is_looked_up(form_sandbox: Sandbox) -> None:
    response = form_sandbox.api().patch(
        f"{CONNECTIONS}/44444444-4444-4444-8444-444444444444", json={"foo": 1}
    )
    assert response.status_code == 400
    errors = [("foo", "property foo should not exist")]
    assert response.json() == validation_body(form_of(form_sandbox), errors)
