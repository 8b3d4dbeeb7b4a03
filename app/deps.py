"""Dependency aliases, defined once for every router."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request

from app.config import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_upstream(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.upstream
    return client


SettingsDep = Annotated[Settings, Depends(get_settings)]
UpstreamDep = Annotated[httpx.AsyncClient, Depends(get_upstream)]
