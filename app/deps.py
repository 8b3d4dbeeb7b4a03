"""Dependency aliases, defined once for every router.

Components are built once by :func:`app.main.create_app` and kept on ``app.state``;
:func:`from_app_state` is the one way a route or dependency asks for one of them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from app.config import Settings


def from_app_state(name: str) -> Any:
    """A FastAPI dependency on the component ``app.state.<name>``."""

    # ``async``: FastAPI runs a plain ``def`` dependency on a worker thread, and a proxied read
    # asks for several components; each would pay a thread hop for one attribute lookup.
    async def component(request: Request) -> Any:
        return getattr(request.app.state, name)

    component.__name__ = f"app_state_{name}"
    return Depends(component)


SettingsDep = Annotated[Settings, from_app_state("settings")]
