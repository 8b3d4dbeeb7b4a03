"""The one HTTP client per process that talks to meetergo."""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from app import __version__
from app.config import Settings

USER_AGENT = f"meetergo-calendar-bff/{__version__}"
KEEPALIVE_EXPIRY_SECONDS = 4.0


def build_upstream_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A pooled client for meetergo with explicit timeouts and limits.

    ``transport`` is injectable so tests can put a controlled edge under the real code. The API key
    is not set here but per request, so it cannot leak to another host through a redirect; redirects
    are never followed. Cookies are neither kept nor sent.
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
        # meetergo runs on Node.js, whose servers close idle connections after 5 s. Dropping
        # ours sooner avoids sending a write on a connection the server is closing (a write
        # is never retried).
        keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
    )
    # One client serves every user: a cookie meetergo (or a balancer before it) set would be sent
    # back on the next user's calls. The jar's policy allows no domain, so it never keeps one.
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(
        base_url=settings.meetergo_base_url,
        cookies=no_cookies,
        timeout=timeout,
        limits=limits,
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
    )
