"""What the simulated users do, decided before the run from a seed: the same for every variant.

Each app user maps to one meetergo user of the sandbox's generated ones (``SANDBOX_USERS``). In
scenario A every app user has a meetergo user of their own; in scenario B many app users share a
few meetergo users (a team looking at one shared calendar account: the read cache's best case).

An app user's plan, on the run's clock (seconds from the start):

- **open** the settings page at a random moment in the first 70% of the run: list the
  connections, then the calendars of each listed connection, one after the other, as a SPA does;
- with some probability **reopen** it 5 to 90 s later (some within a 30 s cache TTL, some after);
- a few users, 3 to 15 s after opening (and again between writes): **patch** their first
  connection (calendars and a booking rule), **set primary** their second, **disconnect** their
  third, **connect** a new Google account; after each write the SPA **refreshes** the list.

Writes are sent as planned whether or not the page loaded, so both variants send the same writes,
and their targets are chosen so that no two writes of one run touch the same connection: whether
each was applied can be read off the sandbox's final state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.providers import calendars_for
from sandbox.seed import SeededConnection, generated_user_id, seeded_connections

Kind = Literal["open", "patch", "primary", "delete", "connect"]
WRITE_KINDS: tuple[Kind, ...] = ("patch", "primary", "delete", "connect")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    app_users: int
    meetergo_users: int
    duration: float
    reopen: float = 0.4
    patch: float = 0.25
    primary: float = 0.1
    delete: float = 0.05
    connect: float = 0.05
    seed: int = 1

    def describe(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Action:
    time: float
    app_user: int
    kind: Kind
    target: str | None = None
    """The connection a write changes (None for open and connect)."""
    body: dict[str, Any] | None = None
    """PATCH body; for connect, ``{"email": ...}`` of the account to connect."""


@dataclass
class AppUser:
    index: int
    meetergo_number: int
    meetergo_user_id: str
    actions: list[Action] = field(default_factory=list)

    @property
    def sub(self) -> str:
        return f"bench-user-{self.index:04d}"


def patch_body(connection: SeededConnection) -> dict[str, Any]:
    """Select the primary and the ``Work`` calendar, and stop validating availability."""
    calendars = calendars_for(connection.provider, connection.email)
    return {"selectedCalendars": [calendars[0].id, calendars[1].id], "validateAvailability": False}


def plan(scenario: Scenario) -> list[AppUser]:
    rng = random.Random(scenario.seed)
    duration = scenario.duration
    users: list[AppUser] = []
    for index in range(scenario.app_users):
        number = index % scenario.meetergo_users + 1
        user = AppUser(index, number, generated_user_id(number))
        opened = rng.uniform(0, 0.7 * duration)
        user.actions.append(Action(opened, index, "open"))
        if rng.random() < scenario.reopen:
            user.actions.append(Action(min(opened + rng.uniform(5, 90), duration), index, "open"))
        # Only one app user per meetergo user writes, so no two writes touch one connection.
        if index < scenario.meetergo_users:
            user.actions += _writes(scenario, rng, user, opened)
        user.actions.sort(key=lambda action: action.time)
        users.append(user)
    return users


def _writes(scenario: Scenario, rng: random.Random, user: AppUser, opened: float) -> list[Action]:
    connections = seeded_connections(user.meetergo_number)
    moment = opened
    actions = []
    chances = {
        "patch": scenario.patch,
        "primary": scenario.primary,
        "delete": scenario.delete,
        "connect": scenario.connect,
    }
    for kind in WRITE_KINDS:
        if rng.random() >= chances[kind]:
            continue
        moment = min(moment + rng.uniform(3, 15), scenario.duration)
        if kind == "patch":
            first = connections[0]
            actions.append(Action(moment, user.index, kind, first.id, patch_body(first)))
        elif kind == "primary" and len(connections) >= 2:
            actions.append(Action(moment, user.index, kind, connections[1].id))
        elif kind == "delete" and len(connections) >= 3:
            actions.append(Action(moment, user.index, kind, connections[2].id))
        elif kind == "connect":
            email = f"bench-{user.meetergo_number:04d}@gmail.example"
            actions.append(Action(moment, user.index, kind, None, {"email": email}))
    return actions


# -- the ideal run: every request the users would send if every answer were a success ---------


@dataclass(frozen=True)
class IdealRequest:
    time: float
    meetergo_user: str
    write: bool
    key: str
    """For reads, what is read (``list`` or ``calendars:<connection>``); for writes, the kind."""
    invalidates: tuple[str, ...] = ()
    """Reads of the same meetergo user this write makes out of date."""


def ideal_requests(users: list[AppUser]) -> list[IdealRequest]:
    """Every user request of the plan, assuming every answer succeeds and every write applies."""
    connections: dict[str, list[str]] = {}
    for user in users:
        connections.setdefault(
            user.meetergo_user_id, [c.id for c in seeded_connections(user.meetergo_number)]
        )
    requests: list[IdealRequest] = []
    actions = sorted((a for u in users for a in u.actions), key=lambda a: (a.time, a.app_user))
    by_index = {user.index: user for user in users}
    for action in actions:
        mid = by_index[action.app_user].meetergo_user_id
        current = connections[mid]
        if action.kind == "open":
            requests.append(IdealRequest(action.time, mid, False, "list"))
            requests += [IdealRequest(action.time, mid, False, f"calendars:{c}") for c in current]
            continue
        invalidates: tuple[str, ...] = ("list",)
        if action.kind == "patch":
            invalidates = ("list", f"calendars:{action.target}")
        elif action.kind == "delete":
            current.remove(str(action.target))
        elif action.kind == "connect":
            current.append(f"new:{mid}")
        requests.append(IdealRequest(action.time, mid, True, action.kind, invalidates))
        requests.append(IdealRequest(action.time, mid, False, "list"))  # the SPA refreshes
    return requests
