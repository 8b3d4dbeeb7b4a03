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


# -- the problems in the document come from the tables that answer --------------------------------


def test_a_code_declared_by_a_route_or_a_rule_is_all_it_takes_to_document_it() -> None:
    from fastapi import FastAPI  # noqa: PLC0415

    from app.contract import ProblemRule, build_document, problems  # noqa: PLC0415
    from app.errors import ErrorCode  # noqa: PLC0415

    app = FastAPI()

    @app.post("/api/things", responses=problems(ErrorCode.NOT_FOUND, ErrorCode.ROUTE_DISABLED))
    async def things() -> dict[str, str]:
        return {}

    @app.get("/other")
    async def other() -> dict[str, str]:
        return {}

    rules = [
        ProblemRule((ErrorCode.CSRF_FAILED,), ("/api",)),
        ProblemRule((ErrorCode.PAYLOAD_TOO_LARGE,), ("/api",), frozenset({"POST"})),
        ProblemRule((ErrorCode.INTERNAL_ERROR,)),
    ]
    document = build_document(app, rules)
    post = document["paths"]["/api/things"]["post"]["responses"]
    assert sorted(post) == ["200", "403", "404", "413", "500"]
    schema = post["404"]["content"]["application/problem+json"]["schema"]
    assert schema["properties"]["code"]["enum"] == ["not_found", "route_disabled"]
    assert schema["properties"]["status"] == {"const": 404}
    assert schema["allOf"] == [{"$ref": "#/components/schemas/Problem"}]
    assert post["404"]["description"] == "`not_found`: Not found; `route_disabled`: Not available"
    assert sorted(document["paths"]["/other"]["get"]["responses"]) == ["200", "500"]
    assert "Problem" in document["components"]["schemas"]


def test_no_operation_documents_fastapis_own_validation_body() -> None:
    document = create_app(make_settings()).openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and status != "503":
                    assert list(response["content"]) == ["application/problem+json"], status
