"""Request validation as NestJS's ValidationPipe (whitelist, forbidNonWhitelisted) reports it."""

from __future__ import annotations

import json
from collections.abc import Callable

from sandbox import assumptions
from sandbox.errors import BadRequestError, FieldError, ValidationFailedError
from sandbox.providers import CONSENT_PROVIDERS, PROVIDER_ENUM
from sandbox.store import Connection, ConnectionUpdate

BODY_NOT_AN_OBJECT = "Request body must be a JSON object"
BODY_NOT_JSON = "Request body must be JSON (Content-Type: application/json)"

_BOOLEAN_FIELDS = {
    "validateAvailability": "validate_availability",
    "cancelIfDeclinedOrDeleted": "cancel_if_declined_or_deleted",
    "disableAttendeeNotification": "disable_attendee_notification",
    "syncBuffersToCalendar": "sync_buffers_to_calendar",
}
PATCH_FIELDS = ("primaryCalendar", "selectedCalendars", *_BOOLEAN_FIELDS)


def _check_string(name: str, value: object) -> list[str]:
    return [] if isinstance(value, str) else [f"{name} must be a string"]


def _check_string_list(name: str, value: object) -> list[str]:
    if not isinstance(value, list):
        return [f"{name} must be an array"]
    if not all(isinstance(item, str) for item in value):
        return [f"each value in {name} must be a string"]
    return []


def _check_boolean(name: str, value: object) -> list[str]:
    return [] if isinstance(value, bool) else [f"{name} must be a boolean value"]


_CHECKS: dict[str, Callable[[str, object], list[str]]] = {
    "primaryCalendar": _check_string,
    "selectedCalendars": _check_string_list,
    **dict.fromkeys(_BOOLEAN_FIELDS, _check_boolean),
}


def parse_json_object(raw: bytes, content_type: str | None) -> dict[str, object]:
    """The PATCH body as a dict; an empty body is ``{}`` as with Express's body parser."""
    if not raw.strip():
        return {}
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise BadRequestError(BODY_NOT_JSON)
    try:
        body: object = json.loads(raw)
    except ValueError:
        raise BadRequestError(BODY_NOT_JSON) from None
    if not isinstance(body, dict):
        raise BadRequestError(BODY_NOT_AN_OBJECT)
    return body


def patch_fields(body: dict[str, object]) -> dict[str, object]:
    """Check a PATCH body against the DTO (types, unknown fields): the fields it sets."""
    errors: list[FieldError] = []
    present: dict[str, object] = {}
    for name, value in body.items():
        check = _CHECKS.get(name)
        if check is None:
            if assumptions.REFUSE_UNKNOWN_PATCH_FIELDS:
                errors.append(FieldError(name, f"property {name} should not exist"))
            continue
        if value is None and assumptions.PATCH_NULL_MEANS_ABSENT:
            continue
        messages = check(name, value)
        errors.extend(FieldError(name, message) for message in messages)
        if not messages:
            present[name] = value
    if errors:
        raise ValidationFailedError(errors)
    return present


def connection_update(present: dict[str, object], connection: Connection) -> ConnectionUpdate:
    """Check the fields of a valid PATCH body against the connection's calendars."""
    errors = _calendar_errors(present, connection)
    if errors:
        raise ValidationFailedError(errors)
    update = ConnectionUpdate()
    primary = present.get("primaryCalendar")
    if isinstance(primary, str):
        update.primary_calendar = primary
    selected = present.get("selectedCalendars")
    if isinstance(selected, list):
        update.selected_calendars = [str(item) for item in selected]
    for name, attribute in _BOOLEAN_FIELDS.items():
        value = present.get(name)
        if isinstance(value, bool):
            setattr(update, attribute, value)
    return update


def _calendar_errors(present: dict[str, object], connection: Connection) -> list[FieldError]:
    errors: list[FieldError] = []
    primary = present.get("primaryCalendar")
    if isinstance(primary, str):
        calendar = connection.calendar(primary)
        if calendar is None:
            errors.append(
                FieldError(
                    "primaryCalendar", "primaryCalendar must be a calendar of this connection"
                )
            )
        elif assumptions.PRIMARY_CALENDAR_MUST_BE_EDITABLE and not calendar.can_edit:
            errors.append(
                FieldError(
                    "primaryCalendar", "primaryCalendar must be a calendar that can be edited"
                )
            )
    selected = present.get("selectedCalendars")
    if isinstance(selected, list) and any(connection.calendar(str(c)) is None for c in selected):
        errors.append(
            FieldError(
                "selectedCalendars",
                "selectedCalendars must only contain calendars of this connection",
            )
        )
    return errors


def checked_provider(provider: str) -> str:
    """A provider from meetergo's enum for which the sandbox has a consent screen."""
    if provider not in PROVIDER_ENUM:
        allowed = ", ".join(PROVIDER_ENUM)
        raise ValidationFailedError(
            [FieldError("provider", f"provider must be one of the following values: {allowed}")]
        )
    if provider not in CONSENT_PROVIDERS:
        raise BadRequestError(
            f"Provider {provider} has no consent screen in the sandbox "
            f"(use one of: {', '.join(CONSENT_PROVIDERS)})"
        )
    return provider


def auth_url_query(redirect_url: str | None, set_as_calendar_sync: str | None) -> bool:
    """Check the query of the auth-URL request; answers the setAsCalendarSync flag."""
    errors: list[FieldError] = []
    if redirect_url is not None and not assumptions.is_acceptable_redirect_url(redirect_url):
        errors.append(FieldError("redirectUrl", "redirectUrl must be a URL address"))
    allowed = assumptions.SET_AS_CALENDAR_SYNC_VALUES
    if set_as_calendar_sync is not None and set_as_calendar_sync not in allowed:
        errors.append(FieldError("setAsCalendarSync", "setAsCalendarSync must be a boolean string"))
    if errors:
        raise ValidationFailedError(errors)
    return set_as_calendar_sync == "true"
