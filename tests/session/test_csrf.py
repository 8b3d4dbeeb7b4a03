"""CSRF, origins, CORS and request bodies, for every /api and /auth route of the app.

The routes are read from the app itself, so a route added later is covered without editing this
file. Every request carries a live session cookie (and a login gets a fresh ticket), so a refusal
can only come from the check under test, and a refused request must have changed nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.session.csrf import SAFE_METHODS
from tests.session.conftest import (
    APP_ORIGIN,
    WHOAMI,
    WHOAMI_METHODS,
    Api,
    assert_problem,
    build_app,
    concrete,
    guarded_routes,
    serving,
    ticket,
)
from tests.support.settings import make_settings

ROUTES = guarded_routes(build_app())
UNSAFE_ROUTES = [(method, path) for method, path in ROUTES if method not in SAFE_METHODS]
SAFE_ROUTES = [(method, path) for method, path in ROUTES if method in SAFE_METHODS]
CSRF_CODES = {"csrf_failed", "origin_not_allowed"}
EVIL = "https://evil.test"


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """One app for the whole matrix (starting one per case would dominate the run time)."""
    with serving() as shared:
        yield shared


def route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


def test_route_enumeration_finds_every_known_guarded_route() -> None:
    expected = {
        ("POST", "/auth/session"),
        ("GET", "/auth/me"),
        ("GET", "/auth/status"),
        ("POST", "/auth/logout"),
    }
    expected |= {(method, WHOAMI) for method in WHOAMI_METHODS}
    assert expected <= set(ROUTES)
    assert all(path.startswith(("/api/", "/auth/")) for _, path in ROUTES)


def send(api: Api, route: tuple[str, str], headers: dict[str, str], cookie: str) -> httpx.Response:
    method, path = route
    body = {"json": {"ticket": ticket("user-2")}} if path == "/auth/session" else {}
    return api.call(method, concrete(path), cookie=cookie, headers=headers, guard=False, **body)


def assert_not_refused_by_csrf(response: httpx.Response) -> None:
    """The call got past the checks: it was answered, or it went on to meetergo.

    This app has no meetergo behind it, so a calendar call that passes the checks ends in an
    ``upstream_*`` error: proof that it reached the upstream step.
    """
    problem = response.headers.get("content-type") == "application/problem+json"
    code = response.json()["code"] if problem else None
    assert response.status_code < 500 or str(code).startswith("upstream_"), response.text
    assert code not in CSRF_CODES, response.text


def assert_nothing_happened(api: Api, cookie: str) -> None:
    """The session still works: a refused logout did not run, a refused login replaced nothing."""
    assert api.me(cookie).status_code == 200


# -- X-CSRF on every method -----------------------------------------------------------------------

MISSING_HEADER = {
    "absent": {"Origin": APP_ORIGIN},
    "zero": {"X-CSRF": "0", "Origin": APP_ORIGIN},
    "empty": {"X-CSRF": "", "Origin": APP_ORIGIN},
    "true": {"X-CSRF": "true", "Origin": APP_ORIGIN},
    "one-with-space": {"X-CSRF": "1 ", "Origin": APP_ORIGIN},
    "other-header": {"X-CSRF-Token": "1", "X-Requested-With": "XMLHttpRequest"},
}


@pytest.mark.parametrize("headers", list(MISSING_HEADER.values()), ids=list(MISSING_HEADER))
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_every_call_without_the_csrf_header_is_refused(
    api: Api, route: tuple[str, str], headers: dict[str, str]
) -> None:
    cookie = api.login_cookie()
    assert_problem(send(api, route, headers, cookie), 403, "csrf_failed")
    assert_nothing_happened(api, cookie)


# -- origins on unsafe methods --------------------------------------------------------------------

BAD_ORIGINS = {
    "neither-origin-nor-referer": {},
    "foreign-origin": {"Origin": EVIL},
    "null-origin": {"Origin": "null"},
    "empty-origin": {"Origin": ""},
    "look-alike-suffix": {"Origin": "https://bff.test.evil.test"},
    "look-alike-prefix": {"Origin": "https://evilbff.test"},
    "plain-http": {"Origin": "http://bff.test"},
    "other-port": {"Origin": "https://bff.test:8443"},
    "explicit-default-port": {"Origin": "https://bff.test:443"},
    "trailing-slash": {"Origin": "https://bff.test/"},
    "upper-case-host": {"Origin": "https://BFF.test"},
    "cross-site-fetch": {"Origin": APP_ORIGIN, "Sec-Fetch-Site": "cross-site"},
    "cross-site-fetch-referer": {"Referer": f"{APP_ORIGIN}/", "Sec-Fetch-Site": "cross-site"},
    "foreign-referer": {"Referer": f"{EVIL}/page"},
    "look-alike-referer": {"Referer": "https://bff.test.evil.test/page"},
    "userinfo-referer": {"Referer": "https://bff.test@evil.test/page"},
    "non-http-referer": {"Referer": "ftp://bff.test/"},
    "foreign-origin-good-referer": {"Origin": EVIL, "Referer": f"{APP_ORIGIN}/settings"},
}


@pytest.mark.parametrize("headers", list(BAD_ORIGINS.values()), ids=list(BAD_ORIGINS))
@pytest.mark.parametrize("route", UNSAFE_ROUTES, ids=route_id)
def test_unsafe_call_from_anything_but_the_app_origin_is_refused(
    api: Api, route: tuple[str, str], headers: dict[str, str]
) -> None:
    cookie = api.login_cookie()
    response = send(api, route, {"X-CSRF": "1", **headers}, cookie)
    assert_problem(response, 403, "origin_not_allowed")
    assert_nothing_happened(api, cookie)


GOOD_ORIGINS = {
    "origin": {"Origin": APP_ORIGIN},
    "referer-only": {"Referer": f"{APP_ORIGIN}/settings?tab=calendars"},
    "same-origin-fetch": {"Origin": APP_ORIGIN, "Sec-Fetch-Site": "same-origin"},
    "same-site-fetch": {"Origin": APP_ORIGIN, "Sec-Fetch-Site": "same-site"},
}


@pytest.mark.parametrize("headers", list(GOOD_ORIGINS.values()), ids=list(GOOD_ORIGINS))
@pytest.mark.parametrize("route", UNSAFE_ROUTES, ids=route_id)
def test_unsafe_call_from_the_app_origin_passes(
    api: Api, route: tuple[str, str], headers: dict[str, str]
) -> None:
    response = send(api, route, {"X-CSRF": "1", **headers}, api.login_cookie())
    assert_not_refused_by_csrf(response)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["no-origin", "foreign-origin", "cross-site-fetch"],
)
@pytest.mark.parametrize("route", SAFE_ROUTES, ids=route_id)
def test_safe_call_needs_only_the_csrf_header(
    api: Api, route: tuple[str, str], headers: dict[str, str]
) -> None:
    response = send(api, route, {"X-CSRF": "1", **headers}, api.login_cookie())
    assert_not_refused_by_csrf(response)


def test_routes_outside_api_and_auth_need_no_csrf_header(api: Api) -> None:
    assert api.call("GET", "/healthz", guard=False).status_code == 200


def test_app_origins_replace_the_services_own_origin() -> None:
    settings = make_settings(app_origins=["https://app.test"])
    with serving(settings) as api:
        api.origin = "https://app.test"
        cookie = api.login_cookie()
        own = api.call("POST", "/auth/logout", headers={"Origin": APP_ORIGIN}, cookie=cookie)
        assert_problem(own, 403, "origin_not_allowed")
        assert api.logout(cookie).status_code == 204


# -- CORS -----------------------------------------------------------------------------------------

CROSS = "https://app.test"
SECOND_CROSS = "https://admin.app.test"


@pytest.fixture
def cross_api() -> Iterator[Api]:
    with serving(make_settings(app_origins=[CROSS, SECOND_CROSS])) as api:
        api.origin = CROSS
        yield api


def preflight(api: Api, path: str, method: str, origin: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type,x-csrf",
    }
    return api.call("OPTIONS", concrete(path), guard=False, headers=headers)


@pytest.mark.parametrize("origin", [CROSS, SECOND_CROSS])
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_preflight_from_a_configured_cross_origin_allows_credentials_for_that_origin(
    cross_api: Api, route: tuple[str, str], origin: str
) -> None:
    method, path = route
    response = preflight(cross_api, path, method, origin)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed_methods = response.headers["access-control-allow-methods"].replace(" ", "").split(",")
    assert method in allowed_methods
    assert "x-csrf" in response.headers["access-control-allow-headers"].lower()
    assert "*" not in response.headers.get("access-control-allow-headers", "")


@pytest.mark.parametrize(
    "origin", [EVIL, "null", "https://app.test.evil.test", "http://app.test", APP_ORIGIN]
)
def test_preflight_from_an_unknown_origin_gets_no_cors_permission(
    cross_api: Api, origin: str
) -> None:
    response = preflight(cross_api, "/auth/session", "POST", origin)
    assert response.status_code >= 400
    # (Starlette adds Allow-Credentials even here; without Allow-Origin the browser refuses.)
    assert "access-control-allow-origin" not in response.headers


def test_cross_origin_call_echoes_exactly_the_callers_configured_origin(cross_api: Api) -> None:
    cookie = cross_api.login_cookie()
    for origin in (CROSS, SECOND_CROSS):
        response = cross_api.call("GET", "/auth/me", cookie=cookie, headers={"Origin": origin})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "origin" in response.headers["vary"].lower()


def test_cross_origin_errors_are_readable_by_the_app(cross_api: Api) -> None:
    response = cross_api.call("GET", "/auth/me", headers={"Origin": CROSS})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["access-control-allow-origin"] == CROSS


def test_call_from_an_unknown_origin_gets_no_cors_headers(cross_api: Api) -> None:
    response = cross_api.call("GET", "/auth/me", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in response.headers
    response = cross_api.call("POST", "/auth/logout", headers={"Origin": EVIL})
    assert_problem(response, 403, "origin_not_allowed")
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("origin", [EVIL, APP_ORIGIN])
def test_same_origin_deployment_answers_no_cors_at_all(api: Api, origin: str) -> None:
    response = preflight(api, "/auth/session", "POST", origin)
    assert "access-control-allow-origin" not in response.headers
    response = api.call("GET", "/auth/me", headers={"Origin": origin}, cookie=api.login_cookie())
    assert "access-control-allow-origin" not in response.headers


# -- request bodies -------------------------------------------------------------------------------

WRONG_MEDIA_TYPES = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/json",
    "application/json-patch+json",
]


@pytest.mark.parametrize("media_type", [*WRONG_MEDIA_TYPES, None])
@pytest.mark.parametrize("route", UNSAFE_ROUTES, ids=route_id)
def test_body_that_is_not_json_is_refused_with_415(
    api: Api, route: tuple[str, str], media_type: str | None
) -> None:
    cookie = api.login_cookie()
    headers = {} if media_type is None else {"Content-Type": media_type}
    method, path = route
    response = api.call(
        method, concrete(path), cookie=cookie, headers=headers, content=b'{"ticket": "x"}'
    )
    assert_problem(response, 415, "unsupported_media_type")
    assert_nothing_happened(api, cookie)


@pytest.mark.parametrize("route", UNSAFE_ROUTES, ids=route_id)
def test_oversized_body_is_refused_with_413(api: Api, route: tuple[str, str]) -> None:
    cookie = api.login_cookie()
    method, path = route
    body = b'{"ticket": "' + b"x" * (16 * 1024) + b'"}'
    response = api.call(
        method,
        concrete(path),
        cookie=cookie,
        headers={"Content-Type": "application/json"},
        content=body,
    )
    assert_problem(response, 413, "payload_too_large")
    assert_nothing_happened(api, cookie)


@pytest.mark.parametrize("route", UNSAFE_ROUTES, ids=route_id)
def test_chunked_body_without_length_is_refused_with_411(api: Api, route: tuple[str, str]) -> None:
    cookie = api.login_cookie()
    method, path = route
    response = api.call(
        method,
        concrete(path),
        cookie=cookie,
        headers={"Content-Type": "application/json"},
        content=iter([b'{"ticket": ', b'"x"}']),
    )
    assert_problem(response, 411, "length_required")
    assert_nothing_happened(api, cookie)


def test_json_with_a_charset_parameter_is_accepted(api: Api) -> None:
    response = api.call(
        "POST",
        "/auth/session",
        headers={"Content-Type": "application/json; charset=utf-8"},
        content=f'{{"ticket": "{ticket()}"}}'.encode(),
    )
    assert response.status_code == 200, response.text


def test_body_checks_come_after_the_csrf_check(api: Api) -> None:
    response = api.call(
        "POST",
        "/auth/session",
        guard=False,
        headers={"Origin": EVIL, "Content-Type": "text/plain"},
        content=b"{}",
    )
    assert_problem(response, 403, "csrf_failed")
