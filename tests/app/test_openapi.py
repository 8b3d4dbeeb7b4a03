"""The service's own OpenAPI document: stable operation ids, generated from the route table."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.config import ConfigError
from app.docs_gen import ROOT
from app.main import create_app
from app.upstream.table import ROUTES
from tests.support.settings import make_settings

STABLE_OPERATION_IDS = {
    "getAuthUrl",
    "listConnections",
    "listCalendars",
    "updateConnection",
    "deleteConnection",
    "setPrimaryConnection",
    "startSession",
    "getSession",
    "getSessionStatus",
    "endSession",
    "revokeUserSessions",
    "revokeSessions",
    "healthz",
    "readyz",
    "startConnectFlow",
    "connectCallback",
    "getConnectFlow",
}


def _operation_ids(document: dict[str, object]) -> set[str]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {op["operationId"] for item in paths.values() for op in item.values()}


def test_committed_document_has_the_stable_operation_ids() -> None:
    committed = json.loads((ROOT / "openapi" / "meetergo-calendar-bff.json").read_text())
    assert _operation_ids(committed) == STABLE_OPERATION_IDS


def test_every_table_route_is_documented_under_the_api_prefix() -> None:
    document = create_app(make_settings()).openapi()
    for route in ROUTES:
        path = "/api/v4/calendar-connections" + route.path
        assert route.method.lower() in document["paths"][path], path


def test_api_prefix_is_configurable() -> None:
    document = create_app(make_settings(api_prefix="/calendar-api")).openapi()
    assert "/calendar-api/v4/calendar-connections/connections" in document["paths"]


def test_a_disabled_route_leaves_the_document_and_answers_route_disabled() -> None:
    app = create_app(make_settings(disabled_routes=["deleteConnection"]))
    document = app.openapi()
    item = document["paths"]["/api/v4/calendar-connections/connections/{connectionId}"]
    assert "delete" not in item
    assert "patch" in item
    with TestClient(app, base_url="https://bff.test") as client:
        response = client.delete(
            "/api/v4/calendar-connections/connections/abc-123",
            headers={"X-CSRF": "1", "Origin": "https://bff.test"},
        )
    assert response.status_code == 404
    assert response.json()["code"] == "route_disabled"


def test_an_unknown_disabled_route_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="BFF_DISABLED_ROUTES"):
        create_app(make_settings(disabled_routes=["dropDatabase"]))


def test_providers_are_an_enum_of_the_configured_set() -> None:
    document = create_app(make_settings(providers=["outlook"])).openapi()
    params = document["paths"]["/api/v4/calendar-connections/auth/{provider}/url"]["get"][
        "parameters"
    ]
    provider = next(p for p in params if p["name"] == "provider")
    schema = provider["schema"]
    ref = schema.get("$ref")
    if ref:
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["enum"] == ["outlook"]
