"""The request log: what it records, how it masks secrets, how it is read and cleared."""

from __future__ import annotations

import json
import re

import pytest

from sandbox.recorder import mask_authorization
from sandbox.seed import ADMIN_KEY, ALICE_ID, ALICE_PERSONAL_TOKEN
from tests.sandbox.support import CONNECTIONS, Sandbox, StartSandbox, auth_url_path

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ADMIN_KEY_MASKED = "Bearer ak_live:7f3e1a52-0000-4000-8000-000000000001:***"


def log_of(sandbox: Sandbox, **params: str) -> list[dict[str, object]]:
    response = sandbox.client().get("/_sandbox/requests", params=params)
    assert response.status_code == 200
    entries: list[dict[str, object]] = response.json()
    return entries


def test_an_api_request_is_recorded_with_method_path_query_headers_body_and_time(
    sandbox: Sandbox,
) -> None:
    sandbox.api().patch(
        f"{CONNECTIONS}/abc",
        params=[("userId", ALICE_ID), ("tag", "a"), ("tag", "")],
        json={"validateAvailability": False},
        headers={"X-Custom": "Yes"},
    )
    [entry] = log_of(sandbox)
    assert list(entry) == [
        "method", "path", "query", "headers", "body", "time", "status", "rateLimited"
    ]  # fmt: skip
    assert entry["method"] == "PATCH"
    assert entry["path"] == f"{CONNECTIONS}/abc"
    assert entry["query"] == [["userId", ALICE_ID], ["tag", "a"], ["tag", ""]]
    headers = entry["headers"]
    assert isinstance(headers, dict)
    assert headers["x-custom"] == "Yes"
    assert headers["x-meetergo-api-user-id"] == ALICE_ID
    assert headers["content-type"] == "application/json"
    assert all(name == name.lower() for name in headers)
    assert entry["body"] == {"validateAvailability": False}
    assert isinstance(entry["time"], str)
    assert ISO_UTC.match(entry["time"])
    assert entry["status"] == 404
    assert entry["rateLimited"] is False


def test_a_body_that_is_not_json_is_recorded_as_text(sandbox: Sandbox) -> None:
    sandbox.client().post(
        "/consent/google", data={"state": "s", "email": "a@b.example", "decision": "deny"}
    )
    [entry] = log_of(sandbox)
    assert entry["body"] == "state=s&email=a%40b.example&decision=deny"


def test_a_request_without_a_body_is_recorded_with_body_null(sandbox: Sandbox) -> None:
    sandbox.client().get("/healthz")
    assert log_of(sandbox)[0]["body"] is None


def test_the_log_is_oldest_first_and_covers_api_consent_and_admin_requests(
    sandbox: Sandbox,
) -> None:
    auth_url, _ = sandbox.auth_url(sandbox.api())
    sandbox.answer_consent(auth_url)
    sandbox.client().get("/_sandbox/seed")
    paths = [entry["path"] for entry in log_of(sandbox)]
    assert paths == [
        auth_url_path("google"),
        "/consent/google",
        "/consent/google",
        "/oauth/google/callback",
        "/_sandbox/seed",
    ]
    methods = [entry["method"] for entry in log_of(sandbox)]
    assert methods == ["GET", "GET", "POST", "GET", "GET"]


def test_reading_the_log_is_not_recorded(sandbox: Sandbox) -> None:
    log_of(sandbox)
    sandbox.client().delete("/_sandbox/requests")
    log_of(sandbox)
    assert log_of(sandbox) == []


def test_path_prefix_filters_the_log(sandbox: Sandbox) -> None:
    sandbox.api().get(CONNECTIONS)
    sandbox.client().get("/healthz")
    sandbox.api().get(auth_url_path("google"))
    assert [e["path"] for e in log_of(sandbox, path_prefix="/v4")] == [
        CONNECTIONS,
        auth_url_path("google"),
    ]
    assert [e["path"] for e in log_of(sandbox, path_prefix="/healthz")] == ["/healthz"]


def test_delete_clears_the_log(sandbox: Sandbox) -> None:
    sandbox.api().get(CONNECTIONS)
    response = sandbox.client().delete("/_sandbox/requests")
    assert response.status_code == 204
    assert log_of(sandbox) == []


def test_the_log_keeps_only_the_newest_entries(start_sandbox: StartSandbox) -> None:
    sandbox = start_sandbox(request_log_size=3)
    client = sandbox.client()
    for n in range(5):
        client.get("/healthz", params={"n": str(n)})
    assert [e["query"] for e in log_of(sandbox)] == [[["n", "2"]], [["n", "3"]], [["n", "4"]]]


def test_secrets_are_masked_in_the_log(sandbox: Sandbox) -> None:
    sandbox.api(key=ADMIN_KEY).get(CONNECTIONS, headers={"Cookie": "session=s3cr3t; other=x"})
    sandbox.api(key=ALICE_PERSONAL_TOKEN, user=None).get(CONNECTIONS)
    admin_entry, personal_entry = log_of(sandbox)
    assert isinstance(admin_entry["headers"], dict)
    assert isinstance(personal_entry["headers"], dict)
    assert admin_entry["headers"]["authorization"] == ADMIN_KEY_MASKED
    assert admin_entry["headers"]["cookie"] == "***"
    assert personal_entry["headers"]["authorization"] == "Bearer rgo-***"
    raw = json.dumps(log_of(sandbox))
    for secret in ["sandbox-admin-secret-0001", "alice-personal-token", "s3cr3t", "other=x"]:
        assert secret not in raw


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (f"Bearer {ADMIN_KEY}", ADMIN_KEY_MASKED),
        (f"bearer {ADMIN_KEY}", ADMIN_KEY_MASKED.replace("Bearer", "bearer")),
        (f"Bearer {ALICE_PERSONAL_TOKEN}", "Bearer rgo-***"),
        ("Bearer ak_live:not-a-uuid:secret", "Bearer ***"),
        ("Bearer some-other-token", "Bearer ***"),
        ("Basic dXNlcjpwYXNz", "Basic ***"),
        (ADMIN_KEY, "***"),
        ("", "***"),
    ],
)
def test_authorization_keeps_what_names_a_key_and_hides_what_proves_it(
    value: str, masked: str
) -> None:
    assert mask_authorization(value) == masked
