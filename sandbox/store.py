"""Calendar connections in memory, per user, oldest first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sandbox import assumptions
from sandbox.clock import iso8601
from sandbox.errors import ForbiddenError, NotFoundError
from sandbox.providers import calendars_for

CONNECTION_NOT_FOUND = "Calendar connection not found"


@dataclass(frozen=True)
class Calendar:
    id: str
    name: str
    is_account_primary: bool
    can_edit: bool


@dataclass
class ConnectionUpdate:
    """The fields a PATCH may change; None means "leave as it is"."""

    primary_calendar: str | None = None
    selected_calendars: list[str] | None = None
    validate_availability: bool | None = None
    cancel_if_declined_or_deleted: bool | None = None
    disable_attendee_notification: bool | None = None
    sync_buffers_to_calendar: bool | None = None


@dataclass
class Connection:
    id: str
    user_id: str
    provider: str
    email: str
    calendars: list[Calendar]
    primary_calendar: str
    selected_calendars: list[str]
    created_at: datetime
    updated_at: datetime
    is_primary: bool = False
    is_connected: bool = True
    validate_availability: bool = True
    cancel_if_declined_or_deleted: bool = True
    disable_attendee_notification: bool = False
    sync_buffers_to_calendar: bool = False
    calendar_sync: bool = False
    """setAsCalendarSync as recorded when the connection was made (kept, never shown)."""

    def calendar(self, calendar_id: str) -> Calendar | None:
        return next((c for c in self.calendars if c.id == calendar_id), None)

    def apply(self, update: ConnectionUpdate, now: datetime) -> None:
        if update.primary_calendar is not None:
            self.primary_calendar = update.primary_calendar
        if update.selected_calendars is not None:
            self.selected_calendars = list(dict.fromkeys(update.selected_calendars))
        if update.validate_availability is not None:
            self.validate_availability = update.validate_availability
        if update.cancel_if_declined_or_deleted is not None:
            self.cancel_if_declined_or_deleted = update.cancel_if_declined_or_deleted
        if update.disable_attendee_notification is not None:
            self.disable_attendee_notification = update.disable_attendee_notification
        if update.sync_buffers_to_calendar is not None:
            self.sync_buffers_to_calendar = update.sync_buffers_to_calendar
        self.updated_at = now

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "provider": self.provider,
            "email": self.email,
            "isPrimary": self.is_primary,
            "isConnected": self.is_connected,
            "primaryCalendar": self.primary_calendar,
            "selectedCalendars": list(self.selected_calendars),
            "validateAvailability": self.validate_availability,
            "cancelIfDeclinedOrDeleted": self.cancel_if_declined_or_deleted,
            "disableAttendeeNotification": self.disable_attendee_notification,
            "syncBuffersToCalendar": self.sync_buffers_to_calendar,
            "createdAt": iso8601(self.created_at),
            "updatedAt": iso8601(self.updated_at),
        }

    def calendars_json(self) -> dict[str, object]:
        return {
            "calendars": [
                {
                    "id": c.id,
                    "name": c.name,
                    "isPrimary": c.is_account_primary,
                    "canEdit": c.can_edit,
                    "selected": c.id in self.selected_calendars,
                }
                for c in self.calendars
            ],
            "connectionId": self.id,
            "provider": self.provider,
        }


@dataclass
class ConnectionStore:
    _by_user: dict[str, list[Connection]] = field(default_factory=dict)

    def clear(self) -> None:
        self._by_user.clear()

    def all(self) -> dict[str, list[Connection]]:
        """Every user's connections, oldest first; users without any are left out."""
        return {user: list(conns) for user, conns in self._by_user.items() if conns}

    def list(self, user_id: str) -> list[Connection]:
        """The user's connections, oldest first."""
        return list(self._by_user.get(user_id, []))

    def get(self, user_id: str, connection_id: str) -> Connection:
        """The user's connection; another user's id is as unknown as an id nobody has."""
        for connection in self._by_user.get(user_id, []):
            if connection.id == connection_id:
                return connection
        if assumptions.FOREIGN_CONNECTION_STATUS == 403 and any(
            c.id == connection_id for connections in self._by_user.values() for c in connections
        ):
            raise ForbiddenError(assumptions.FORBIDDEN_MESSAGE)
        raise NotFoundError(CONNECTION_NOT_FOUND)

    def find_account(self, user_id: str, provider: str, email: str) -> Connection | None:
        wanted = email.casefold()
        for connection in self._by_user.get(user_id, []):
            if connection.provider == provider and connection.email.casefold() == wanted:
                return connection
        return None

    def create(
        self,
        user_id: str,
        provider: str,
        email: str,
        *,
        set_as_calendar_sync: bool,
        now: datetime,
        connection_id: str | None = None,
    ) -> Connection:
        connections = self._by_user.setdefault(user_id, [])
        is_primary, calendar_sync = assumptions.new_connection_role(
            user_has_primary=any(c.is_primary for c in connections),
            set_as_calendar_sync=set_as_calendar_sync,
        )
        calendars = [
            Calendar(t.id, t.name, t.is_account_primary, t.can_edit)
            for t in calendars_for(provider, email)
        ]
        account_primary = next(c.id for c in calendars if c.is_account_primary)
        connection = Connection(
            id=connection_id or str(uuid.uuid4()),
            user_id=user_id,
            provider=provider,
            email=email,
            calendars=calendars,
            primary_calendar=account_primary,
            selected_calendars=[account_primary],
            created_at=now,
            updated_at=now,
            is_primary=is_primary,
            calendar_sync=calendar_sync,
        )
        connections.append(connection)
        return connection

    def delete(self, user_id: str, connection_id: str, now: datetime) -> None:
        connection = self.get(user_id, connection_id)
        remaining = self._by_user[user_id]
        remaining.remove(connection)
        if connection.is_primary:
            successor = assumptions.successor_of_deleted_primary(remaining)
            if successor is not None:
                successor.is_primary = True
                successor.updated_at = now

    def find_any(self, connection_id: str) -> Connection | None:
        """A connection of any user (for the sandbox's admin endpoints only)."""
        for connections in self._by_user.values():
            for connection in connections:
                if connection.id == connection_id:
                    return connection
        return None

    def find_by_email(self, email: str) -> tuple[Connection, ...]:
        """Every user's connections of the account ``email`` (admin endpoints only)."""
        wanted = email.casefold()
        return tuple(
            connection
            for connections in self._by_user.values()
            for connection in connections
            if connection.email.casefold() == wanted
        )

    def revoke(self, connection: Connection, now: datetime) -> None:
        """As when the user revoked meetergo's access at the provider, or the grant expired."""
        connection.is_connected = False
        connection.updated_at = now

    def restore(self, connection: Connection, now: datetime) -> None:
        """A fresh grant for a revoked connection (assumption 9)."""
        connection.is_connected = True
        connection.updated_at = now

    def set_primary(self, user_id: str, connection_id: str, now: datetime) -> Connection:
        chosen = self.get(user_id, connection_id)
        for connection in self._by_user[user_id]:
            should_be_primary = connection is chosen
            if connection.is_primary != should_be_primary:
                connection.is_primary = should_be_primary
                connection.updated_at = now
        return chosen
