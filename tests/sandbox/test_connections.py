"""The connection endpoints: listing, calendars, updates, deletion, the primary connection."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.seed import ADMIN_KEY, ALICE_ID, BOB_ID, MEMBER_KEY
from sandbox.store import ConnectionStore
from tests.sandbox.support import CONNECTIONS, Sandbox, nest

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONNECTION_FIELDS = [
    "id",
    "provider",
    "email",
    "isPrimary",
    "isConnected",
    "primaryCalendar",
    "selectedCalendars",
    "validateAvailability",
    "cancelIfDeclinedOrDeleted",
    "disableAttendeeNotification",
    "syncBuffersToCalendar",
    "createdAt",
    "updatedAt",
]
NOT_FOUND = nest(404, "Calendar connection not found", "Not Found")


def listing(sandbox: Sandbox, user: str = ALICE_ID) -> list[dict[str, Any]]:
    body = sandbox.api(user=user).get(CONNECTIONS).json()
    assert body["total"] == len(body["connections"])
    connections: list[dict[str, Any]] = body["connections"]
    return connections


def test_a_user_starts_with_no_connections(sandbox: Sandbox) -> None:
    response = sandbox.api().get(CONNECTIONS)
    assert response.status_code == 200
    assert response.json() == {"connections": [], "total": 0}


def test_a_new_google_connection_has_meetergos_fields_and_defaults(sandbox: Sandbox) -> None:
    connection = sandbox.connect(sandbox.api(), "google", email="Alice@Gmail.example")
    assert list(connection) == CONNECTION_FIELDS
    assert re.fullmatch(r"[0-9a-f-]{36}", connection["id"])
    assert connection["provider"] == "google"
    assert connection["email"] == "Alice@Gmail.example"
    assert connection["isPrimary"] is True
    assert connection["isConnected"] is True
    assert connection["primaryCalendar"] == "primary"
    assert connection["selectedCalendars"] == ["primary"]
    assert connection["validateAvailability"] is True
    assert connection["cancelIfDeclinedOrDeleted"] is True
    assert connection["disableAttendeeNotification"] is False
    assert connection["syncBuffersToCalendar"] is False
    assert ISO_UTC.match(connection["createdAt"])
    assert connection["updatedAt"] == connection["createdAt"]


@pytest.mark.parametrize("provider", ["google", "outlook"])
def test_a_new_connection_has_a_primary_an_editable_and_a_read_only_calendar(
    sandbox: Sandbox, provider: str
) -> None:
    connection = sandbox.connect(sandbox.api(), provider)
    response = sandbox.api().get(f"{CONNECTIONS}/{connection['id']}/calendars")
    assert response.status_code == 200
    body = response.json()
    assert body["connectionId"] == connection["id"]
    assert body["provider"] == provider
    calendars = body["calendars"]
    assert [list(c) for c in calendars] == [["id", "name", "isPrimary", "canEdit", "selected"]] * 3
    primary, work, holidays = calendars
    assert (primary["isPrimary"], primary["canEdit"], primary["selected"]) == (True, True, True)
    assert (work["name"], work["isPrimary"], work["canEdit"], work["selected"]) == (
        "Work",
        False,
        True,
        False,
    )
    assert (holidays["name"], holidays["canEdit"], holidays["selected"]) == (
        "Holidays",
        False,
        False,
    )
    assert connection["primaryCalendar"] == primary["id"]
    assert connection["selectedCalendars"] == [primary["id"]]
    if provider == "google":
        assert primary["id"] == "primary"
        assert work["id"].endswith("@group.calendar.google.com")
    else:
        assert all(c["id"].startswith("AAMkA") for c in calendars)


def test_connections_are_listed_oldest_first_and_only_the_first_is_primary(
    sandbox: Sandbox,
) -> None:
    api = sandbox.api()
    first = sandbox.connect(api, "google", email="one@gmail.example")
    second = sandbox.connect(api, "outlook", email="two@outlook.example")
    third = sandbox.connect(api, "google", email="three@gmail.example")
    connections = listing(sandbox)
    assert [c["id"] for c in connections] == [first["id"], second["id"], third["id"]]
    assert [c["isPrimary"] for c in connections] == [True, False, False]


def test_connections_belong_to_one_user(sandbox: Sandbox) -> None:
    sandbox.connect(sandbox.api(user=ALICE_ID))
    assert listing(sandbox, BOB_ID) == []


CONNECTION_ROUTES = [
    ("GET", "{}/calendars"),
    ("PATCH", "{}"),
    ("DELETE", "{}"),
    ("POST", "{}/set-primary"),
]


@pytest.mark.parametrize(("method", "template"), CONNECTION_ROUTES)
def test_another_users_connection_is_not_found(
    sandbox: Sandbox, method: str, template: str
) -> None:
    alices = sandbox.connect(sandbox.api(user=ALICE_ID))
    path = f"{CONNECTIONS}/{template.format(alices['id'])}"
    response = sandbox.api(key=MEMBER_KEY, user=BOB_ID).request(method, path, json={})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert listing(sandbox) == [alices]


@pytest.mark.parametrize(("method", "template"), CONNECTION_ROUTES)
@pytest.mark.parametrize("connection_id", ["44444444-4444-4444-8444-444444444444", "not-a-uuid"])
def test_an_unknown_connection_is_not_found(
    sandbox: Sandbox, method: str, template: str, connection_id: str
) -> None:
    path = f"{CONNECTIONS}/{template.format(connection_id)}"
    response = sandbox.api().request(method, path, json={})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_patch_changes_every_documented_field_and_answers_the_connection(
    sandbox: Sandbox,
) -> None:
    api = sandbox.api()
    connection = sandbox.connect(api)
    calendars = api.get(f"{CONNECTIONS}/{connection['id']}/calendars").json()["calendars"]
    work, holidays = calendars[1]["id"], calendars[2]["id"]
    changes = {
        "primaryCalendar": work,
        "selectedCalendars": ["primary", work, holidays],
        "validateAvailability": False,
        "cancelIfDeclinedOrDeleted": False,
        "disableAttendeeNotification": True,
        "syncBuffersToCalendar": True,
    }
    response = api.patch(f"{CONNECTIONS}/{connection['id']}", json=changes)
    assert response.status_code == 200
    updated = response.json()
    assert {name: updated[name] for name in changes} == changes
    assert updated["createdAt"] == connection["createdAt"]
    assert updated["updatedAt"] >= connection["updatedAt"]
    assert listing(sandbox) == [updated]
    selected = api.get(f"{CONNECTIONS}/{connection['id']}/calendars").json()["calendars"]
    assert [c["selected"] for c in selected] == [True, True, True]


def test_patch_leaves_fields_it_does_not_name_or_names_as_null(sandbox: Sandbox) -> None:
    api = sandbox.api()
    connection = sandbox.connect(api)
    response = api.patch(
        f"{CONNECTIONS}/{connection['id']}",
        json={"disableAttendeeNotification": True, "primaryCalendar": None},
    )
    assert response.status_code == 200
    expected = {**connection, "disableAttendeeNotification": True}
    assert {k: v for k, v in response.json().items() if k != "updatedAt"} == {
        k: v for k, v in expected.items() if k != "updatedAt"
    }


@pytest.mark.parametrize("body", [b"", b"{}"], ids=["no-body", "empty-object"])
def test_patch_with_nothing_to_change_answers_the_connection_unchanged(
    sandbox: Sandbox, body: bytes
) -> None:
    api = sandbox.api()
    connection = sandbox.connect(api)
    response = api.patch(
        f"{CONNECTIONS}/{connection['id']}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["selectedCalendars"] == connection["selectedCalendars"]


def test_delete_answers_204_without_a_body_and_removes_the_connection(sandbox: Sandbox) -> None:
    api = sandbox.api()
    connection = sandbox.connect(api)
    response = api.delete(f"{CONNECTIONS}/{connection['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert listing(sandbox) == []
    assert api.delete(f"{CONNECTIONS}/{connection['id']}").status_code == 404


def test_deleting_the_primary_connection_promotes_the_oldest_remaining(sandbox: Sandbox) -> None:
    api = sandbox.api()
    first = sandbox.connect(api, email="one@gmail.example")
    second = sandbox.connect(api, email="two@gmail.example")
    third = sandbox.connect(api, email="three@gmail.example")
    api.post(f"{CONNECTIONS}/{third['id']}/set-primary")

    api.delete(f"{CONNECTIONS}/{third['id']}")
    assert [(c["id"], c["isPrimary"]) for c in listing(sandbox)] == [
        (first["id"], True),
        (second["id"], False),
    ]


def test_deleting_another_connection_keeps_the_primary(sandbox: Sandbox) -> None:
    api = sandbox.api()
    first = sandbox.connect(api, email="one@gmail.example")
    second = sandbox.connect(api, email="two@gmail.example")
    api.delete(f"{CONNECTIONS}/{second['id']}")
    assert [(c["id"], c["isPrimary"]) for c in listing(sandbox)] == [(first["id"], True)]


def test_a_connection_made_after_the_primary_was_deleted_becomes_primary(sandbox: Sandbox) -> None:
    api = sandbox.api()
    first = sandbox.connect(api, email="one@gmail.example")
    api.delete(f"{CONNECTIONS}/{first['id']}")
    again = sandbox.connect(api, email="two@gmail.example")
    assert again["isPrimary"] is True


def test_set_primary_answers_the_connection_and_leaves_exactly_one_primary(
    sandbox: Sandbox,
) -> None:
    api = sandbox.api()
    connections = [sandbox.connect(api, email=f"user{n}@gmail.example") for n in range(3)]
    for chosen in [connections[2], connections[1], connections[1], connections[0]]:
        response = api.post(f"{CONNECTIONS}/{chosen['id']}/set-primary")
        assert response.status_code == 200
        assert response.json()["id"] == chosen["id"]
        assert response.json()["isPrimary"] is True
        primaries = [c["id"] for c in listing(sandbox) if c["isPrimary"]]
        assert primaries == [chosen["id"]]


def test_set_primary_touches_only_the_user_acting(sandbox: Sandbox) -> None:
    alice_first = sandbox.connect(sandbox.api(user=ALICE_ID), email="a1@gmail.example")
    bob = sandbox.api(key=ADMIN_KEY, user=BOB_ID)
    bob_first = sandbox.connect(bob, email="b1@gmail.example")
    bob_second = sandbox.connect(bob, email="b2@gmail.example")
    bob.post(f"{CONNECTIONS}/{bob_second['id']}/set-primary")
    assert [c["isPrimary"] for c in listing(sandbox, ALICE_ID)] == [True]
    assert [(c["id"], c["isPrimary"]) for c in listing(sandbox, BOB_ID)] == [
        (bob_first["id"], False),
        (bob_second["id"], True),
    ]
    assert alice_first["isPrimary"] is True


@pytest.mark.parametrize(
    ("has_primary", "requested", "recorded"),
    [(False, True, True), (False, False, False), (True, True, False)],
)
def test_set_as_calendar_sync_is_recorded_only_for_a_connection_that_becomes_primary(
    has_primary: bool, requested: bool, recorded: bool
) -> None:
    store = ConnectionStore()
    now = datetime.now(UTC)
    if has_primary:
        store.create(ALICE_ID, "google", "first@gmail.example", set_as_calendar_sync=False, now=now)
    created = store.create(
        ALICE_ID, "outlook", "new@outlook.example", set_as_calendar_sync=requested, now=now
    )
    assert created.is_primary is not has_primary
    assert created.calendar_sync is recorded
