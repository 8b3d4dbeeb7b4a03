"""httpx requests and responses seen through openapi-core's protocols.

openapi-core ships adapters for ``requests``, Django, Flask and others, but none for httpx. These
two classes implement ``openapi_core.protocols.Request`` and ``Response`` over an exchange that
really went over the wire, so a contract test validates what the sandbox actually sent.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


class HttpxOpenAPIRequest:
    """An httpx request, optionally re-homed onto another origin.

    ``host_url`` replaces the request's scheme and host: the contract names meetergo's server
    (``https://api.meetergo.com``) and openapi-core finds operations by server URL plus path, so a
    request sent to the sandbox on an ephemeral port is presented as one sent to meetergo.
    """

    def __init__(self, request: httpx.Request, *, host_url: str | None = None) -> None:
        self._request = request
        self._host_url = host_url or f"{request.url.scheme}://{request.url.netloc.decode()}"
        query = parse_qsl(request.url.query.decode(), keep_blank_values=True)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query),
            header=Headers(request.headers.multi_items()),
            cookie=ImmutableMultiDict(_cookies(request)),
        )

    @property
    def host_url(self) -> str:
        return self._host_url

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("content-type", "")).lower()


class HttpxOpenAPIResponse:
    """An httpx response, body already read."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return str(self._response.headers.get("content-type", "")).lower()

    @property
    def headers(self) -> Headers:
        return Headers(self._response.headers.multi_items())

    @property
    def data(self) -> bytes | None:
        return self._response.content or None


def _cookies(request: httpx.Request) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for header in request.headers.get_list("cookie"):
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                pairs.append((name, value))
    return pairs
