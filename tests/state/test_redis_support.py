"""The Redis test helper: a missing server skips the Redis tests locally and fails them in CI."""

from __future__ import annotations

import pytest

from tests.support.redis import REDIS_URL_VARIABLE, redis_url_or_skip

ABSENT = "redis://:s3cret-redis-pw@127.0.0.1:1/0"


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_without_redis_the_tests_skip_outside_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    monkeypatch.setenv(REDIS_URL_VARIABLE, ABSENT)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=r"no Redis answers at 127\.0\.0\.1:1") as out:
        redis_url_or_skip()
    assert "s3cret-redis-pw" not in str(out.value)


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_without_redis_the_tests_fail_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv(REDIS_URL_VARIABLE, ABSENT)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI always has Redis"):
        redis_url_or_skip()


@pytest.mark.redis
def test_with_redis_the_helper_returns_its_url(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    monkeypatch.setenv(REDIS_URL_VARIABLE, redis_url)
    monkeypatch.setenv("CI", "true")
    assert redis_url_or_skip() == redis_url
