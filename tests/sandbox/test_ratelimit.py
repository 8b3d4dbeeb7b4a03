"""meetergo's rate limit: a token bucket per key, 100 a minute, bursts of 200."""

from __future__ import annotations

import pytest

from sandbox.ratelimit import RateLimiter, TokenBucket
from sandbox.seed import ADMIN_KEY, ALICE_PERSONAL_TOKEN, BOB_ID, CAROL_ID, MEMBER_KEY
from tests.sandbox.support import CONNECTIONS, Sandbox, StartSandbox, nest

TOO_MANY = nest(429, "Too Many Requests", "Too Many Requests")


def test_a_bucket_serves_its_burst_then_refuses() -> None:
    bucket = TokenBucket(capacity=3, refill_per_second=1, now=0)
    assert [bucket.take(0) for _ in range(4)] == [True, True, True, False]


def test_a_bucket_refills_at_its_rate_and_never_beyond_capacity() -> None:
    bucket = TokenBucket(capacity=2, refill_per_second=0.5, now=0)
    assert [bucket.take(0), bucket.take(0)] == [True, True]
    assert not bucket.take(1.9)
    assert bucket.take(2.0)
    assert not bucket.take(2.0)
    assert [bucket.take(1000) for _ in range(3)] == [True, True, False]


def test_the_limiter_keeps_one_bucket_per_key_and_forgets_them_on_reset() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=1, clock=lambda: now[0])
    assert limiter.take("a")
    assert not limiter.take("a")
    assert limiter.take("b")
    limiter.reset()
    assert limiter.take("a")


def test_request_201_of_a_burst_gets_429_with_meetergos_body(sandbox: Sandbox) -> None:
    api = sandbox.api()
    statuses = [api.get(CONNECTIONS).status_code for _ in range(200)]
    assert statuses == [200] * 200
    refused = api.get(CONNECTIONS)
    assert refused.status_code == 429
    assert refused.json() == TOO_MANY
    assert "retry-after" not in refused.headers
    assert not [name for name in refused.headers if name.startswith("x-ratelimit")]


def test_the_bucket_refills_at_100_a_minute(sandbox: Sandbox) -> None:
    api = sandbox.api()
    for _ in range(200):
        api.get(CONNECTIONS)
    assert api.get(CONNECTIONS).status_code == 429
    sandbox.clock.advance(0.59)
    assert api.get(CONNECTIONS).status_code == 429
    sandbox.clock.advance(0.01)  # 0.6 s is one token at 100 a minute
    assert api.get(CONNECTIONS).status_code == 200
    assert api.get(CONNECTIONS).status_code == 429
    sandbox.clock.advance(6)
    assert [api.get(CONNECTIONS).status_code for _ in range(11)] == [200] * 10 + [429]


def test_each_key_has_its_own_bucket(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_burst=2)
    admin = sandbox.api(key=ADMIN_KEY)
    assert [admin.get(CONNECTIONS).status_code for _ in range(3)] == [200, 200, 429]
    assert sandbox.api(key=MEMBER_KEY).get(CONNECTIONS).status_code == 200
    assert sandbox.api(key=ALICE_PERSONAL_TOKEN, user=None).get(CONNECTIONS).status_code == 200


def test_the_bucket_is_shared_by_every_user_of_a_key(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_burst=2)
    assert sandbox.api(user=BOB_ID).get(CONNECTIONS).status_code == 200
    assert sandbox.api(user=CAROL_ID).get(CONNECTIONS).status_code == 200
    assert sandbox.api(user=BOB_ID).get(CONNECTIONS).status_code == 429


@pytest.mark.parametrize(
    "authorization", [None, "Bearer unknown-key", f"Bearer {ADMIN_KEY[:-1]}"], ids=str
)
def test_requests_with_no_valid_key_spend_no_tokens(
    start_sandbox: StartSandbox, authorization: str | None
) -> None:
    sandbox = start_sandbox(rate_limit_burst=2)
    headers = {"Authorization": authorization} if authorization else {}
    refused = sandbox.client(headers)
    assert {refused.get(CONNECTIONS).status_code for _ in range(5)} == {401}
    api = sandbox.api()
    assert [api.get(CONNECTIONS).status_code for _ in range(3)] == [200, 200, 429]


def test_authenticated_requests_spend_a_token_even_when_refused_later(
    start_sandbox: StartSandbox,
) -> None:
    sandbox = start_sandbox(rate_limit_burst=2)
    without_user = sandbox.api(user=None)
    assert without_user.get(CONNECTIONS).status_code == 400
    assert sandbox.api().get(f"{CONNECTIONS}/unknown/calendars").status_code == 404
    refused = sandbox.api().get(CONNECTIONS)
    assert refused.status_code == 429
    assert refused.json() == TOO_MANY


def test_the_rate_is_a_setting(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_per_minute=6, rate_limit_burst=1)
    api = sandbox.api()
    assert [api.get(CONNECTIONS).status_code for _ in range(2)] == [200, 429]
    sandbox.clock.advance(9.9)
    assert api.get(CONNECTIONS).status_code == 429
    sandbox.clock.advance(0.1)
    assert api.get(CONNECTIONS).status_code == 200


def test_consent_and_admin_requests_spend_no_tokens(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_burst=1)
    browser = sandbox.client()
    for path in ["/healthz", "/_sandbox/seed", "/_sandbox/faults", "/consent/google?state=x"]:
        browser.get(path)
    assert sandbox.api().get(CONNECTIONS).status_code == 200


def test_a_bucket_says_how_long_until_its_next_token() -> None:
    bucket = TokenBucket(capacity=1, refill_per_second=0.5, now=0)
    assert bucket.seconds_until_token(0) == 0
    assert bucket.take(0)
    assert bucket.seconds_until_token(0) == 2
    assert bucket.seconds_until_token(1.5) == pytest.approx(0.5)
    assert bucket.take(2)


def test_a_computed_retry_after_says_when_the_next_token_comes(
    start_sandbox: StartSandbox,
) -> None:
    sandbox = start_sandbox(
        rate_limit_per_minute=6, rate_limit_burst=1, rate_limit_retry_after="computed"
    )
    api = sandbox.api()
    assert api.get(CONNECTIONS).status_code == 200
    refused = api.get(CONNECTIONS)
    assert refused.status_code == 429
    assert refused.json() == TOO_MANY
    assert refused.headers["retry-after"] == "10"
    sandbox.clock.advance(6.5)
    assert api.get(CONNECTIONS).headers["retry-after"] == "4"  # 3.5 s, rounded up
    sandbox.clock.advance(3.4)
    assert api.get(CONNECTIONS).headers["retry-after"] == "1"  # never 0 while refusing
    sandbox.clock.advance(0.1)
    assert api.get(CONNECTIONS).status_code == 200


def test_a_fixed_retry_after_is_sent_as_configured(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_burst=1, rate_limit_retry_after=30)
    api = sandbox.api()
    api.get(CONNECTIONS)
    refused = api.get(CONNECTIONS)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "30")


def test_the_request_log_says_which_answers_were_rate_limited(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(rate_limit_burst=2)
    api = sandbox.api()
    assert [api.get(CONNECTIONS).status_code for _ in range(3)] == [200, 200, 429]
    sandbox.client().get("/healthz")
    log = sandbox.client().get("/_sandbox/requests").json()
    assert [(e["path"], e["status"], e["rateLimited"]) for e in log] == [
        (CONNECTIONS, 200, False),
        (CONNECTIONS, 200, False),
        (CONNECTIONS, 429, True),
        ("/healthz", 200, False),
    ]


def test_a_forced_429_is_logged_as_rate_limited(sandbox: Sandbox) -> None:
    admin = sandbox.client()
    assert admin.put("/_sandbox/faults", json={"rate_limited": True, "times": 1}).is_success
    assert sandbox.api().get(CONNECTIONS).status_code == 429
    [entry] = admin.get("/_sandbox/requests", params={"path_prefix": "/v4"}).json()
    assert (entry["status"], entry["rateLimited"]) == (429, True)
