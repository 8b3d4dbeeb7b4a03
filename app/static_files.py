"""Files the service serves to browsers: the JS client (and, in demo mode, the demo pages)."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_ROOT = Path(__file__).resolve().parent / "static"
SDK_PATH = "/sdk"


class SecuredStaticFiles(StaticFiles):
    """Static files with the headers a script or page of ours should always carry."""

    def __init__(
        self, *, directory: Path, cache_control: str, html: bool = False, csp: str | None = None
    ) -> None:
        super().__init__(directory=directory, check_dir=True, html=html)
        self.cache_control = cache_control
        self.csp = csp

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", self.cache_control)
        if path.endswith((".js", ".mjs")):
            response.headers["Content-Type"] = "text/javascript; charset=utf-8"
        if path.endswith(".d.ts"):
            response.headers["Content-Type"] = "text/plain; charset=utf-8"
        # Modules may be imported by an app on another configured origin.
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        if self.csp and response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = self.csp
            response.headers["Referrer-Policy"] = "same-origin"
        return response


def sdk_files() -> SecuredStaticFiles:
    # Versioned paths (/sdk/v1/...) never change meaning, so a day of caching is safe.
    return SecuredStaticFiles(directory=STATIC_ROOT / "sdk", cache_control="public, max-age=86400")


DEMO_PATH = "/demo"
# The demo pages load only their own files and talk only to this service. The popup is a new
# window, so form-action and navigation to the sandbox's consent screen are not restricted here.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def demo_files() -> SecuredStaticFiles:
    return SecuredStaticFiles(
        directory=STATIC_ROOT / "demo", cache_control="no-cache", html=True, csp=DEMO_CSP
    )
