"""No request pays a thread hop: every endpoint and dependency of every route is a coroutine.

FastAPI runs a plain ``def`` endpoint or dependency on a worker thread (issue 11: a proxied read
paid four such hops for attribute lookups on ``app.state``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

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
