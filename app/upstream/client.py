"""The one HTTP client per process that talks to meetergo."""

from __future__ import annotations

import httpx

from app import __version__
from app.config import Settings

USER_AGENT = f"meetergo-calendar-bff/{__version__}"


def build_upstream_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A pooled client for meetergo with explicit timeouts and limits.

    ``transport`` is injectable so tests can put a controlled edge under the real code. The API key
    is not set here but per request, so it cannot leak to another host through a redirect; redirects
    are never followed.
    """
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=settings.upstream_read_timeout,
        write=settings.upstream_write_timeout,
        pool=settings.upstream_pool_timeout,
    )
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_keepalive,
    )
    return httpx.AsyncClient(
        base_url=settings.meetergo_base_url,
        timeout=timeout,
        limits=limits,
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
    )
