"""The allowlist: every meetergo call the service makes, declared once.

Each :class:`UpstreamRoute` is the single source for the service's route (method and path under
the API prefix), the validation of its path parameters, query parameters and body, its entry in
the OpenAPI document, and the request sent to meetergo. Anything not in this table is a 404:
the service is not a generic forwarder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator

UPSTREAM_BASE_PATH = "/v4/calendar-connections"

# meetergo's connection ids are UUIDs in practice; its guide shows short ids such as "conn-123".
# Letters, digits, "_" and "-" only, at most 128 characters: no "." or "..", no "/", "\", "%",
# whitespace or control characters can reach the upstream path, encoded or not.
CONNECTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
CONNECTION_ID = re.compile(CONNECTION_ID_PATTERN)
MAX_REDIRECT_URL = 2048
MAX_CALENDAR_ID = 1024
MAX_SELECTED_CALENDARS = 100

CalendarId = Annotated[StrictStr, Field(min_length=1, max_length=MAX_CALENDAR_ID)]


class ConnectionUpdate(BaseModel):
    """The PATCH body: meetergo's documented fields only, with their types, at least one."""

    model_config = ConfigDict(extra="forbid")

    primaryCalendar: CalendarId | None = Field(  # noqa: N815 - meetergo's field names
        default=None, description="Calendar id new events are created in."
    )
    selectedCalendars: list[CalendarId] | None = Field(  # noqa: N815
        default=None,
        max_length=MAX_SELECTED_CALENDARS,
        description="Calendar ids checked for conflicts.",
    )
    validateAvailability: StrictBool | None = Field(  # noqa: N815
        default=None, description="Whether this connection is checked for conflicts."
    )
    cancelIfDeclinedOrDeleted: StrictBool | None = Field(  # noqa: N815
        default=None, description="Cancel the booking when its calendar event is declined."
    )
    disableAttendeeNotification: StrictBool | None = Field(  # noqa: N815
        default=None, description="Suppress attendee notifications of calendar events."
    )
    syncBuffersToCalendar: StrictBool | None = Field(  # noqa: N815
        default=None, description="Write booking buffers to the calendar."
    )

    @model_validator(mode="after")
    def _not_empty(self) -> ConnectionUpdate:
        if not self.model_fields_set:
            raise ValueError("the body must set at least one field")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} must not be null")
        return self

    def upstream_json(self) -> dict[str, Any]:
        """Exactly the fields the client set, re-serialised from the validated model."""
        return self.model_dump(exclude_unset=True)


@dataclass(frozen=True)
class QueryParam:
    """A query parameter the client may send, and how it is checked."""

    name: str
    kind: Literal["bool", "url"]
    description: str
    forwarded: bool = True  # False: used by the service itself, never sent to meetergo


@dataclass(frozen=True)
class UpstreamRoute:
    operation_id: str
    method: Literal["GET", "PATCH", "DELETE", "POST"]
    path: str  # relative to UPSTREAM_BASE_PATH, with {provider} / {connectionId}
    summary: str
    query: tuple[QueryParam, ...] = ()
    body: type[ConnectionUpdate] | None = None
    success_status: int = 200
    response_example: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def is_read(self) -> bool:
        return self.method == "GET"

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    def upstream_path(self, params: dict[str, str]) -> str:
        path = self.path
        for name in self.path_params:
            path = path.replace("{" + name + "}", params[name])
        return UPSTREAM_BASE_PATH + path


_CONNECTION = {
    "id": "2f6d0a9e-6c1b-4a57-9d49-1b0f3f6a2c11",
    "provider": "google",
    "email": "alice@example.com",
    "isPrimary": True,
    "isConnected": True,
    "primaryCalendar": "primary",
    "selectedCalendars": ["primary"],
    "validateAvailability": True,
    "cancelIfDeclinedOrDeleted": True,
    "disableAttendeeNotification": False,
}

ROUTES: tuple[UpstreamRoute, ...] = (
    UpstreamRoute(
        operation_id="getAuthUrl",
        method="GET",
        path="/auth/{provider}/url",
        summary="Start connecting a calendar: the provider's consent URL",
        query=(
            QueryParam(
                "redirectUrl",
                "url",
                "Where to return after consent: an allowed app origin only. Kept as the return "
                "target; meetergo is always pointed at this service's callback.",
                forwarded=False,
            ),
            QueryParam(
                "setAsCalendarSync",
                "bool",
                "Make the new connection the one events are written to (true/false).",
            ),
        ),
        response_example={
            "authUrl": "https://accounts.google.com/o/oauth2/v2/auth?...",
            "provider": "google",
        },
    ),
    UpstreamRoute(
        operation_id="listConnections",
        method="GET",
        path="/connections",
        summary="The user's calendar connections",
        response_example={"connections": [_CONNECTION], "total": 1},
    ),
    UpstreamRoute(
        operation_id="listCalendars",
        method="GET",
        path="/connections/{connectionId}/calendars",
        summary="The calendars of one connection",
        response_example={
            "calendars": [
                {
                    "id": "primary",
                    "name": "Calendar",
                    "isPrimary": True,
                    "canEdit": True,
                    "selected": True,
                },
            ],
            "connectionId": _CONNECTION["id"],
            "provider": "google",
        },
    ),
    UpstreamRoute(
        operation_id="updateConnection",
        method="PATCH",
        path="/connections/{connectionId}",
        summary="Change a connection's settings",
        body=ConnectionUpdate,
        response_example=_CONNECTION,
    ),
    UpstreamRoute(
        operation_id="deleteConnection",
        method="DELETE",
        path="/connections/{connectionId}",
        summary="Disconnect a calendar",
        success_status=204,
    ),
    UpstreamRoute(
        operation_id="setPrimaryConnection",
        method="POST",
        path="/connections/{connectionId}/set-primary",
        summary="Make a connection the one new events are written to",
        response_example=_CONNECTION,
    ),
)

ROUTES_BY_ID = {route.operation_id: route for route in ROUTES}
