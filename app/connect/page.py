"""The small page that ends a popup flow: it reports the result to the window that opened it.

Nothing from the request's query is written into it: the page is built from our own result (an
error code from the catalogue, an id that matched the allowlist's pattern) and from
configuration, and that data travels as JSON in a non-executable script element, escaped for HTML.
The one inline script runs under a nonce; everything else is forbidden by the CSP.
"""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

from starlette.responses import HTMLResponse

from app.connect.flows import FlowResult
from app.connect.page_texts import LANGUAGES, page_texts
from app.errors import CATALOG, ErrorCode

MESSAGE_TYPE = "calendar-connected"
CHANNEL_PREFIX = "meetergo-calendar-flow:"
CLOSE_AFTER_SUCCESS_MS = 1200

_SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("flow-result").textContent);
  var message = data.message;
  // The browser's languages (its Accept-Language) pick the texts; English is already shown.
  var wanted = navigator.languages && navigator.languages.length
    ? navigator.languages
    : [navigator.language || "en"];
  for (var i = 0; i < wanted.length; i++) {
    var language = String(wanted[i]).toLowerCase().split("-")[0];
    var texts = data.texts[language];
    if (!texts) continue;
    document.documentElement.lang = language;
    document.title = texts.heading;
    document.getElementById("status").textContent = texts.heading;
    document.getElementById("detail").textContent = texts.detail;
    document.getElementById("close").textContent = texts.close;
    break;
  }
  if (window.opener && !window.opener.closed) {
    data.origins.forEach(function (origin) {
      try { window.opener.postMessage(message, origin); } catch (e) { /* not that origin */ }
    });
  }
  if (message.flowId && "BroadcastChannel" in window) {
    try {
      var channel = new BroadcastChannel(data.channel);
      channel.postMessage(message);
      channel.close();
    } catch (e) { /* the SPA still has the status endpoint */ }
  }
  if (message.success) {
    setTimeout(function () { window.close(); }, data.closeAfterMs);
  }
})();
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style nonce="{nonce}">
  body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; display: grid; place-items: center;
         min-height: 100vh; background: #f6f7f9; color: #1d2433; }}
  main {{ background: #fff; border-radius: 12px; padding: 32px 40px; max-width: 420px;
          box-shadow: 0 2px 12px rgba(0,0,0,.08); text-align: center; }}
  h1 {{ font-size: 20px; margin: 0 0 8px; }}
  .ok {{ color: #137333; }} .failed {{ color: #b3261e; }}
  p {{ margin: 8px 0 0; color: #4a5365; }}
</style>
</head>
<body>
<main>
  <h1 class="{css}" id="status">{heading}</h1>
  <p id="detail">{detail}</p>
  <p id="close">{close}</p>
</main>
<script type="application/json" id="flow-result">{data}</script>
<script nonce="{nonce}">{script}</script>
</body>
</html>
"""


def flow_message(flow_id: str | None, result: FlowResult) -> dict[str, Any]:
    """What the opener receives; the first four fields are the ones meetergo's example reads."""
    code = None if result.success else (result.code or ErrorCode.CONNECT_FAILED.value)
    title = _title(code)
    return {
        "type": MESSAGE_TYPE,
        "success": result.success,
        "provider": result.provider,
        "connectionId": result.connection_id,
        "error": title,
        "code": code,
        "retryAfter": result.retry_after,
        "flowId": flow_id,
    }


def _title(code: str | None) -> str | None:
    try:
        return CATALOG[ErrorCode(code)].title if code else None
    except ValueError:
        return None


def _json_for_html(value: object) -> str:
    # Inside <script type="application/json">: "<", ">" and "&" as unicode escapes, so no
    # "</script>" or comment can be formed, whatever the values.
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_flow_page(
    flow_id: str | None, result: FlowResult, origins: tuple[str, ...], status_code: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    message = flow_message(flow_id, result)
    code = message["code"]
    texts = {
        language: page_texts(language, success=result.success, code=code) for language in LANGUAGES
    }
    english = texts["en"]
    css = "ok" if result.success else "failed"
    data = {
        "texts": texts,
        "message": message,
        "origins": list(origins),
        "channel": f"{CHANNEL_PREFIX}{flow_id}" if flow_id else None,
        "closeAfterMs": CLOSE_AFTER_SUCCESS_MS,
    }
    body = _PAGE.format(
        title=html.escape(english["heading"]),
        heading=html.escape(english["heading"]),
        detail=html.escape(english["detail"]),
        close=html.escape(english["close"]),
        css=css,
        nonce=nonce,
        data=_json_for_html(data),
        script=_SCRIPT,
    )
    return HTMLResponse(body, status_code=status_code, headers=page_headers(nonce))


def page_headers(nonce: str) -> dict[str, str]:
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    # No Cross-Origin-Opener-Policy: it would cut window.opener, the page's main channel.
    return {
        "Content-Security-Policy": csp,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
