"""Documents generated from the code, so they cannot drift: ``python -m app.docs_gen``.

A test regenerates each one and fails when the committed copy differs.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from app.errors import render_error_table

ROOT = Path(__file__).resolve().parent.parent

_ERRORS_HEADER = """\
# Error codes

Every error leaves the service as `application/problem+json` (RFC 9457):

```json
{"type": "urn:meetergo-bff:problem:session_expired", "title": "Session expired", "status": 401,
 "code": "session_expired", "requestId": "5f0c..."}
```

`code` is stable: program against it, not against `title` or `detail`. `requestId` is also in the
`X-Request-ID` response header; quote it when reporting a problem. `Retry-After` accompanies the
answers where waiting helps. Validation errors add `errors`: a list of `{location, message}`.

The connect flow's codes (`connection_already_exists`, `access_denied`, `invalid_scope`,
`server_error`, `flow_mismatch`, `flow_expired`, `connect_failed`, and any code that stopped a
flow as it started) mostly reach the SPA not as HTTP answers but as the flow's result: in the
callback page's message, the flow status, or the `code` parameter of a redirect. Their status
applies where they are answered as problem+json. The JS client adds its own codes:
`popup_blocked`, `popup_closed`, `timeout`, `aborted`, `flow_in_progress`, `network_error`,
`bad_response`.

This table is generated from `app/errors.py` (`python -m app.docs_gen`); a test keeps it in sync.

"""


def service_openapi() -> str:
    """This service's OpenAPI document, for a reference configuration (default routes)."""
    from app.config import Settings  # noqa: PLC0415
    from app.main import create_app  # noqa: PLC0415 - avoid importing the app for errors.md

    # The document does not depend on keys: throwaway ones satisfy the settings' checks.
    settings = Settings(
        _env_file=None,
        public_url="https://calendar.example.com",
        meetergo_api_key=f"ak_live:reference:{secrets.token_urlsafe(24)}",
        session_keys=[secrets.token_urlsafe(32)],
        ticket_secret=secrets.token_urlsafe(32),
    )
    document = create_app(settings).openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


_CONFIG_HEADER = """\
# Configuration reference

Every setting is an environment variable (or a line of a `.env` file in the working directory).
Secrets are marked; `meetergo-bff check-config` prints the effective values with secrets masked.
[`.env.example`](../.env.example) has the same variables with comments, ready to copy.

This page is generated from `app/config.py` (`python -m app.docs_gen`); a test keeps it in sync.

| variable | required | default | secret | what |
|---|---|---|---|---|
"""


def render_configuration() -> str:
    from pydantic import SecretStr  # noqa: PLC0415
    from pydantic_core import PydanticUndefined  # noqa: PLC0415

    from app.config import Settings, env_name  # noqa: PLC0415

    rows = []
    for name, field in Settings.model_fields.items():
        required = field.is_required()
        if required:
            default = ""
        elif field.default_factory is not None:
            default = ",".join(str(v) for v in field.default_factory())  # type: ignore[call-arg]
        elif field.default is None or field.default is PydanticUndefined:
            default = ""
        else:
            default = (
                str(field.default).lower()
                if isinstance(field.default, bool)
                else str(field.default)
            )
        secret = "SecretStr" in str(field.annotation) or field.annotation is SecretStr
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        shown = f"`{default}`" if default else ""
        rows.append(
            f"| `{env_name(name)}` | {'yes' if required else ''} | {shown} | "
            f"{'yes' if secret else ''} | {description} |"
        )
    return _CONFIG_HEADER + "\n".join(rows) + "\n"


def generated_documents() -> dict[Path, str]:
    return {
        ROOT / "docs" / "configuration.md": render_configuration(),
        ROOT / "docs" / "errors.md": _ERRORS_HEADER + render_error_table(),
        ROOT / "openapi" / "meetergo-calendar-bff.json": service_openapi(),
    }


def main() -> None:
    for path, text in generated_documents().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")  # noqa: T201


if __name__ == "__main__":
    main()
