"""The consent screen as a page: what it shows, its security headers, and escaping."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.sandbox.support import Sandbox, StartSandbox


def consent_page_of(sandbox: Sandbox, provider: str = "google") -> tuple[str, str, dict[str, str]]:
    auth_url, state = sandbox.auth_url(sandbox.api(), provider)
    response = sandbox.client().get(auth_url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text, state, dict(response.headers)


@pytest.mark.parametrize(
    ("provider", "brand"), [("google", "Sign in with Google"), ("outlook", "Microsoft")]
)
def test_the_consent_page_is_styled_after_the_provider(
    sandbox: Sandbox, provider: str, brand: str
) -> None:
    html, _, _ = consent_page_of(sandbox, provider)
    assert brand in html
    assert f'<body class="{provider}">' in html


def test_the_consent_page_has_a_labelled_email_field_a_checked_scope_and_two_buttons(
    sandbox: Sandbox,
) -> None:
    html, state, _ = consent_page_of(sandbox)
    assert '<form method="post" action="/consent/google">' in html
    assert f'<input type="hidden" name="state" value="{state}">' in html
    assert '<label class="field" for="email">Account e-mail</label>' in html
    assert re.search(r'<input id="email" name="email" type="email"[^>]*value="alice@', html)
    assert re.search(r'<input type="checkbox" id="scope-calendar" name="scope"[^>]* checked>', html)
    assert '<label for="scope-calendar">See and edit your calendars</label>' in html
    assert re.search(r'<button type="submit"[^>]*value="allow">Allow</button>', html)
    assert re.search(r'<button type="submit"[^>]*value="deny"[^>]*>Deny</button>', html)
    assert '<html lang="en">' in html


def test_the_consent_page_loads_nothing_from_elsewhere(sandbox: Sandbox) -> None:
    html, _, _ = consent_page_of(sandbox)
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"\b(src|href)=", html)
    assert "http" not in html


def test_the_consent_page_has_a_strict_content_security_policy(sandbox: Sandbox) -> None:
    html, _, headers = consent_page_of(sandbox)
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    directives = dict(
        directive.strip().split(" ", 1)
        for directive in headers["content-security-policy"].split(";")
    )
    assert directives == {
        "default-src": "'none'",
        "style-src": f"'sha256-{digest}'",
        "form-action": f"'self' {sandbox.landing_url}",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
    }
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"


def test_without_redirect_url_the_form_may_only_post_to_the_sandbox(sandbox: Sandbox) -> None:
    auth_url, _ = sandbox.auth_url(sandbox.api(), redirectUrl="")
    policy = sandbox.client().get(auth_url).headers["content-security-policy"]
    assert "form-action 'self';" in policy


def test_the_consent_page_has_no_opener_policy_by_default(sandbox: Sandbox) -> None:
    _, _, headers = consent_page_of(sandbox)
    assert "cross-origin-opener-policy" not in headers


@pytest.mark.parametrize("how", ["settings", "admin"])
def test_the_consent_coop_fault_sends_cross_origin_opener_policy(
    start_sandbox: StartSandbox, sandbox: Sandbox, how: str
) -> None:
    if how == "settings":
        target = start_sandbox(faults={"consent_coop": True})
    else:
        target = sandbox
        target.client().put("/_sandbox/faults", json={"consent_coop": True})
    _, _, headers = consent_page_of(target)
    assert headers["cross-origin-opener-policy"] == "same-origin"


def test_user_input_shown_again_on_the_consent_page_is_escaped(sandbox: Sandbox) -> None:
    _, state = sandbox.auth_url(sandbox.api())
    hostile = '"><script>alert(1)</script>'
    response = sandbox.client().post(
        "/consent/google", data={"state": state, "email": hostile, "decision": "allow"}
    )
    assert response.status_code == 400
    assert "<script>" not in response.text
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


@pytest.mark.parametrize(
    "query",
    [
        {"error": "true", "provider": "<script>x</script>", "message": "%3Cimg%20src%3Dx%3E"},
        {"success": "true", "provider": "google", "connectionId": '"><svg onload=alert(1)>'},
        {"provider": "<b>", "error": "%3Cscript%3E", "success": "false"},
    ],
    ids=["current-error", "current-success", "legacy-error"],
)
def test_the_result_page_escapes_everything_it_shows(
    sandbox: Sandbox, query: dict[str, str]
) -> None:
    response = sandbox.client().get("/oauth/result", params=query)
    assert response.status_code == 200
    assert not re.search(r"<(script|img|svg onload|b>)", response.text)
    assert "&lt;" in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_the_bad_state_page_does_not_reflect_the_state(sandbox: Sandbox) -> None:
    response = sandbox.client().get("/consent/google", params={"state": "<i>probe</i>"})
    assert response.status_code == 400
    assert "probe" not in response.text
