"""The Redis server that Redis-backed tests use: skipped when none answers, a failure in CI.

The server is ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``, the one ``scripts/test``
starts). Not ``BFF_``-prefixed on purpose: ``tests/conftest.py`` hides those from every test.
"""

from __future__ import annotations

import functools
import os
from urllib.parse import urlsplit

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_URL_VARIABLE = "TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_PROBE_TIMEOUT = 0.5


def redis_url_or_skip() -> str:
    """The test Redis URL when a server answers there; otherwise skip the test, or fail it in CI.

    CI always provides Redis, so there a missing server must fail the run instead of turning the
    Redis tests into silent skips.
    """
    url = os.environ.get(REDIS_URL_VARIABLE) or DEFAULT_REDIS_URL
    problem = _probe(url)
    if problem is None:
        return url
    message = (
        f"no Redis answers at {_where(url)} ({problem}); start redis-server "
        f"or set {REDIS_URL_VARIABLE}"
    )
    if in_ci():
        pytest.fail(f"{message}. CI always has Redis, so this is a failure.", pytrace=False)
    pytest.skip(message)


def in_ci() -> bool:
    """Whether the ``CI`` variable is set (``false`` and ``0`` count as unset)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@functools.cache
def _probe(url: str) -> str | None:
    """None when Redis at ``url`` answers PING, else what went wrong. Asked once per URL."""
    client = redis.Redis.from_url(
        url,
        socket_timeout=_PROBE_TIMEOUT,
        socket_connect_timeout=_PROBE_TIMEOUT,
        retry=Retry(NoBackoff(), retries=0),
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return type(exc).__name__
    finally:
        client.close()
    return None


def _where(url: str) -> str:
    # Host and port only: a test URL can still carry a password.
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else f"{parts.scheme}://..."
