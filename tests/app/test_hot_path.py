"""No request pays a thread hop: every endpoint and dependency of every route is a coroutine.

FastAPI runs a plain ``def`` endpoint or dependency on a worker thread (issue 11: a proxied read
paid four such hops for attribute lookups on ``app.state``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Match

from app.main import create_app
from tests.support.settings import make_settings


def _calls(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    if dependant.call is not None:
        yield getattr(dependant.call, "__name__", repr(dependant.call)), dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def test_every_endpoint_and_dependency_runs_on_the_event_loop() -> None:
    app = create_app(make_settings(demo=True, environment="development"))
    sync = sorted(
        {
            f"{route.path}: {name}"
            for route in app.routes
            if isinstance(route, APIRoute)
            for name, call in _calls(route.dependant)
            if not inspect.iscoroutinefunction(call)
        }
    )
    assert sync == []


def _matching(app: FastAPI, path: str, method: str) -> list[int]:
    """Which of the app's top-level routes (included routers count as one) match a request."""
    scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
    return [i for i, route in enumerate(app.routes) if route.matches(scope)[0] is not Match.NONE]


def test_the_calendar_routes_come_first_after_the_probes_and_overlap_no_other_route() -> None:
    """Starlette tries routes in order: the calendar reads, most of the traffic, are tried right
    after the probes. Their place is only a cost: no other route may match one of their paths."""
    app = create_app(make_settings(demo=True, environment="development"))
    (probes,) = set(_matching(app, "/healthz", "GET"))
    prefix = "/api/v4/calendar-connections"
    for path in ("/connections", "/connections/c-1/calendars", "/connections/c-1",
                 "/connections/c-1/set-primary", "/auth/google/url"):  # fmt: skip
        for method in ("GET", "POST", "PATCH", "DELETE"):
            found = _matching(app, prefix + path, method)
            assert found in ([], [probes + 1]), f"{method} {path}: {found}"
        assert _matching(app, prefix + path, "GET" if "primary" not in path else "POST") == [
            probes + 1
        ]
