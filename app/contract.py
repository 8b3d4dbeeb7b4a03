"""The OpenAPI document, made true: every problem a route can answer, from the tables that answer.

A route declares the error codes it raises (``responses=problems(...)``), built from tuples kept
beside the code that raises them (``SESSION_PROBLEMS`` in app/session/deps.py, ``PROBLEMS`` of a
middleware, ...). Middleware that answers before routing registers a :class:`ProblemRule` for the
paths and methods it guards. :func:`build_document` merges both into each operation: one response
per status, the description and the schema's ``code`` enum generated from app/errors.py's catalogue,
served as ``application/problem+json``. Adding a code to a route's tuple (or a rule) is all it
takes to document a new answer; ``python -m app.docs_gen`` regenerates the committed copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import CATALOG, PROBLEM_JSON, ErrorCode

PROBLEM_SCHEMA_NAME = "Problem"
_PROBLEM_CODES_KEY = "x-problem-codes"
_FRAMEWORK_422 = "Validation Error"  # FastAPI's own 422 (application/json): never what we answer


@dataclass(frozen=True)
class ProblemRule:
    """Codes answered before routing, for paths under ``prefixes`` and these ``methods``."""

    codes: tuple[ErrorCode, ...]
    prefixes: tuple[str, ...] = ()  # empty: every path
    methods: frozenset[str] = field(default_factory=frozenset)  # empty: every method

    def applies(self, path: str, method: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return not self.prefixes or any(
            path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes
        )


def problems(*groups: Iterable[ErrorCode] | ErrorCode) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for these codes (single codes or tuples of them)."""
    codes: list[ErrorCode] = []
    for group in groups:
        codes += [group] if isinstance(group, ErrorCode) else list(group)
    out: dict[int | str, dict[str, Any]] = {}
    for code in dict.fromkeys(codes):
        status = CATALOG[code].status
        out.setdefault(status, {"description": "", _PROBLEM_CODES_KEY: []})
        out[status][_PROBLEM_CODES_KEY].append(code.value)
    return out


def problem_schema() -> dict[str, Any]:
    """The JSON schema of every problem+json body (app/errors.py, ``problem_response``)."""
    return {
        "type": "object",
        "description": "RFC 9457 problem details with a stable `code` (docs/errors.md).",
        "required": ["type", "title", "status", "code", "requestId"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string", "enum": [code.value for code in CATALOG]},
            "detail": {"type": "string"},
            "requestId": {"type": ["string", "null"]},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["location", "message"],
                    "properties": {
                        "location": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    }


def _finish_response(status: str, response: dict[str, Any]) -> None:
    codes = [ErrorCode(value) for value in response.pop(_PROBLEM_CODES_KEY)]
    said = "; ".join(f"`{code.value}`: {CATALOG[code].title}" for code in codes)
    # Another answer with the same status and its own content (/readyz's 503) keeps its words;
    # otherwise the description is FastAPI's placeholder (the reason phrase) and is replaced.
    other = response.get("description") if response.get("content") else None
    response["description"] = f"{other}; or a problem: {said}" if other else said
    response.setdefault("content", {})[PROBLEM_JSON] = {
        "schema": {
            "allOf": [{"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}],
            "properties": {
                "status": {"const": int(status)},
                "code": {"enum": [code.value for code in codes]},
            },
        }
    }


def _merge(operation: dict[str, Any], extra: dict[int | str, dict[str, Any]]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, response in extra.items():
        existing = responses.setdefault(str(status), {})
        codes = existing.setdefault(_PROBLEM_CODES_KEY, [])
        for code in response[_PROBLEM_CODES_KEY]:
            if code not in codes:
                codes.append(code)


def build_document(app: FastAPI, rules: Iterable[ProblemRule]) -> dict[str, Any]:
    """``app``'s OpenAPI document with every problem answer (routes' own and ``rules``)."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    rules = tuple(rules)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            framework_422 = responses.get("422", {})
            if framework_422.get("description") == _FRAMEWORK_422:
                # FastAPI documents its own validation body; ours is problem+json.
                del responses["422"]
                _merge(operation, problems(ErrorCode.VALIDATION_ERROR))
            for rule in rules:
                if rule.applies(path, method):
                    _merge(operation, problems(rule.codes))
            for status, response in responses.items():
                if _PROBLEM_CODES_KEY in response:
                    _finish_response(status, response)
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas[PROBLEM_SCHEMA_NAME] = problem_schema()
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def install_document(app: FastAPI, rules: Iterable[ProblemRule]) -> None:
    """Serve :func:`build_document` at ``/openapi.json`` (built once, on first request)."""
    rules = tuple(rules)
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if "document" not in cache:
            cache["document"] = build_document(app, rules)
        return cache["document"]

    replace: Callable[[], dict[str, Any]] = openapi
    app.openapi = replace  # type: ignore[method-assign]
