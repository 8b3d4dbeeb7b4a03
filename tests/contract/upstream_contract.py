"""The upstream contract (openapi/meetergo-calendar-connections.yaml) as a test helper."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from openapi_core import Config, OpenAPI

from tests.contract.openapi_adapters import HttpxOpenAPIRequest, HttpxOpenAPIResponse

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT_PATH = REPO_ROOT / "openapi" / "meetergo-calendar-connections.yaml"
SANDBOX_DOC_PATH = REPO_ROOT / "docs" / "sandbox.md"

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@cache
def _contract_text() -> str:
    return CONTRACT_PATH.read_text(encoding="utf-8")


def load_contract() -> dict[str, Any]:
    """A fresh copy of the document, safe to mutate."""
    document = yaml.safe_load(_contract_text())
    assert isinstance(document, dict)
    return document


def iter_operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def resolve(document: Mapping[str, Any], node: Any) -> Any:
    """Follow local ``$ref`` pointers until a node that is not a reference."""
    while isinstance(node, Mapping) and "$ref" in node:
        pointer = node["$ref"]
        assert pointer.startswith("#/"), pointer
        node = document
        for part in pointer[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def iter_extension(
    node: Any, key: str, where: str = "#"
) -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """(location, value, the mapping holding it) for every occurrence of ``key`` in the tree."""
    if isinstance(node, Mapping):
        for name, child in node.items():
            here = f"{where}/{name}"
            if name == key:
                yield here, child, node
            else:
                yield from iter_extension(child, key, here)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from iter_extension(child, key, f"{where}/{index}")


class ContractViolationError(AssertionError):
    """A real exchange that the contract does not describe."""

    def __init__(self, exchange: str, errors: tuple[str, ...]) -> None:
        self.exchange = exchange
        self.errors = errors
        super().__init__(f"{exchange} breaks the upstream contract:\n  " + "\n  ".join(errors))


class UpstreamContract:
    """Checks real httpx exchanges with the sandbox against the contract.

    Requests are re-homed onto the contract's first server (meetergo's URL), so the document is
    used exactly as written.
    """

    def __init__(self) -> None:
        self.document = load_contract()
        self.server_url: str = self.document["servers"][0]["url"]
        # jsonschema checks "uri" only with an optional package; check it here instead, so that
        # authUrl and redirectUrl are really held to "an absolute URL".
        config = Config(
            extra_format_validators={"uri": _is_absolute_uri},
            extra_format_unmarshallers={"uri": str},
        )
        self._openapi = OpenAPI.from_dict(load_contract(), config=config)

    def _request(self, request: httpx.Request) -> HttpxOpenAPIRequest:
        return HttpxOpenAPIRequest(request, host_url=self.server_url)

    def check_response(self, response: httpx.Response) -> Any:
        """Raise ContractViolationError unless the response is documented; return its body."""
        result = self._openapi.unmarshal_response(
            self._request(response.request), HttpxOpenAPIResponse(response)
        )
        if result.errors:
            raise ContractViolationError(_describe(response), _explain(result.errors))
        return result.data

    def check_request(self, request: httpx.Request) -> None:
        """Raise ContractViolationError unless the request is one the contract allows."""
        result = self._openapi.unmarshal_request(self._request(request))
        if result.errors:
            raise ContractViolationError(f"{request.method} {request.url}", _explain(result.errors))

    def check_exchange(self, response: httpx.Response) -> Any:
        """Both sides of a well-formed call: the request is allowed and the answer documented."""
        self.check_request(response.request)
        return self.check_response(response)


def _is_absolute_uri(value: Any) -> bool:
    if not isinstance(value, str):
        return True  # not a string: the "type" keyword reports it
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def _describe(response: httpx.Response) -> str:
    body = response.text
    if len(body) > 500:
        body = body[:500] + "..."
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code} {body}"


def _explain(errors: Iterable[Exception]) -> tuple[str, ...]:
    lines: list[str] = []
    for error in errors:
        lines.append(f"{type(error).__name__}: {error}")
        # Schema errors hide their detail one level down.
        for cause in (error.__cause__, *getattr(error.__cause__, "schema_errors", ())):
            if cause is not None:
                lines.append(f"    {type(cause).__name__}: {cause}"[:1000])
    return tuple(lines)


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError:
        return None
