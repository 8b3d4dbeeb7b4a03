"""The HTML the browser sees: consent screens styled after the provider, result and error pages.

Every page is self-contained (one inline stylesheet, allowed by its hash in a strict CSP, inline
SVG logos, no scripts) and every value put into it is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape

from fastapi.responses import HTMLResponse

_STYLE = """
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
background:#f0f2f5;color:#1f1f1f;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:min(450px,100% - 32px);background:#fff;border-radius:8px;padding:36px 40px;
box-shadow:0 1px 3px rgba(0,0,0,.2)}
.brand{display:flex;align-items:center;gap:10px;font-size:15px;color:#444}
.brand svg{flex:none}
h1{font-size:22px;font-weight:400;margin:20px 0 8px}
.note{color:#555;font-size:13px;margin:0 0 20px}
label.field{display:block;font-size:13px;margin:16px 0 4px;color:#444}
input[type=email]{width:100%;padding:10px 12px;font:inherit;
border:1px solid #8c8c8c;border-radius:4px}
fieldset{border:1px solid #ddd;border-radius:6px;margin:20px 0;padding:8px 14px}
legend{font-size:13px;color:#444;padding:0 4px}
.scope{display:flex;align-items:center;gap:10px;padding:6px 0}
.scope input{width:18px;height:18px}
.error{color:#b3261e;font-size:13px;margin:6px 0 0}
.actions{display:flex;gap:12px;justify-content:flex-end;margin-top:24px}
button{font:inherit;font-weight:500;padding:9px 24px;border-radius:4px;
cursor:pointer;border:1px solid}
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
.google button.allow{background:#0b57d0;border-color:#0b57d0;color:#fff}
.google button.deny{background:#fff;border-color:#747775;color:#0b57d0}
.outlook main{border-radius:0}
.outlook button.allow{background:#0067b8;border-color:#0067b8;color:#fff}
.outlook button.deny{background:#ccc;border-color:#ccc;color:#1b1b1b}
.sandbox button.allow{background:#1f6f43;border-color:#1f6f43;color:#fff}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 14px;font-size:14px}
dt{color:#555}dd{margin:0;word-break:break-all}
"""

_STYLE_SOURCE = (
    "'sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode() + "'"
)

_GOOGLE_LOGO = (
    '<svg width="24" height="24" viewBox="0 0 24 24" aria-hidden="true">'
    '<circle cx="12" cy="12" r="11" fill="#fff" stroke="#dadce0"/>'
    '<text x="12" y="17" text-anchor="middle" font-size="15" font-weight="700" '
    'font-family="Arial,sans-serif" fill="#4285f4">G</text></svg>'
)
_MICROSOFT_LOGO = (
    '<svg width="21" height="21" viewBox="0 0 21 21" aria-hidden="true">'
    '<rect width="10" height="10" fill="#f25022"/>'
    '<rect x="11" width="10" height="10" fill="#7fba00"/>'
    '<rect y="11" width="10" height="10" fill="#00a4ef"/>'
    '<rect x="11" y="11" width="10" height="10" fill="#ffb900"/></svg>'
)
_SANDBOX_LOGO = (
    '<svg width="22" height="22" viewBox="0 0 22 22" aria-hidden="true">'
    '<rect width="22" height="22" rx="5" fill="#1f6f43"/>'
    '<path d="M6 11.5l3.2 3.2L16 8" stroke="#fff" stroke-width="2.4" fill="none"/></svg>'
)


@dataclass(frozen=True)
class Brand:
    theme: str
    logo: str
    company: str
    heading: str
    intro: str


BRANDS = {
    "google": Brand(
        "google",
        _GOOGLE_LOGO,
        "Google",
        "Sign in with Google",
        "meetergo wants to access your Google Account",
    ),
    "outlook": Brand(
        "outlook",
        _MICROSOFT_LOGO,
        "Microsoft",
        "Permissions requested",
        "meetergo needs your permission to use your Microsoft 365 account",
    ),
}
_SANDBOX = Brand("sandbox", _SANDBOX_LOGO, "meetergo sandbox", "", "")


def content_security_policy(form_action: str = "'none'") -> str:
    return (
        f"default-src 'none'; style-src {_STYLE_SOURCE}; form-action {form_action}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def _document(title: str, brand: Brand, content: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f'<body class="{escape(brand.theme)}">\n<main>\n'
        f'<div class="brand">{brand.logo}<span>{escape(brand.company)}</span></div>\n'
        f"{content}\n</main>\n</body>\n</html>\n"
    )


def html_response(
    html: str, status: int = 200, *, form_action: str = "'none'", coop: bool = False
) -> HTMLResponse:
    headers = {
        "Content-Security-Policy": content_security_policy(form_action),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
    if coop:
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return HTMLResponse(html, status_code=status, headers=headers)


def consent_page(*, provider: str, state: str, email: str, error: str | None = None) -> str:
    """The provider's consent screen for one pending flow."""
    brand = BRANDS[provider]
    described_by = ' aria-describedby="email-error" aria-invalid="true"' if error else ""
    error_html = (
        f'<p class="error" id="email-error" role="alert">{escape(error)}</p>' if error else ""
    )
    content = f"""<h1>{escape(brand.heading)}</h1>
<p class="note">{escape(brand.intro)}. This is the meetergo sandbox: no real account is used.</p>
<form method="post" action="/consent/{escape(provider)}">
<input type="hidden" name="state" value="{escape(state)}">
<label class="field" for="email">Account e-mail</label>
<input id="email" name="email" type="email" autocomplete="email" required
 value="{escape(email)}"{described_by}>
{error_html}
<fieldset>
<legend>meetergo will be able to</legend>
<div class="scope">
<input type="checkbox" id="scope-calendar" name="scope" value="calendar" checked>
<label for="scope-calendar">See and edit your calendars</label>
</div>
</fieldset>
<div class="actions">
<button type="submit" class="allow" name="decision" value="allow">Allow</button>
<button type="submit" class="deny" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>"""
    return _document(f"{brand.heading} - {brand.company}", brand, content)


def result_page(*, success: bool, provider: str, connection_id: str, message: str) -> str:
    """meetergo's own landing page, shown when the flow was started without a redirectUrl."""
    title = "Calendar connected" if success else "Calendar not connected"
    rows = [("Provider", provider)]
    if success:
        rows.append(("Connection", connection_id))
    else:
        rows.append(("Reason", message))
    details = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    content = (
        f"<h1>{escape(title)}</h1>\n"
        '<p class="note">You can close this window.</p>\n'
        f"<dl>{details}</dl>"
    )
    return _document(title, _SANDBOX, content)


def error_page(title: str, message: str) -> str:
    content = f'<h1>{escape(title)}</h1>\n<p class="note">{escape(message)}</p>'
    return _document(title, _SANDBOX, content)
