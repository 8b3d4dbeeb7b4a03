"""Files the service serves to browsers: the JS client (and, in demo mode, the demo pages)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.exceptions import HTTPException
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


SDK_BUILD_DIR = STATIC_ROOT / "sdk" / "v1"
# A file at an immutable URL never changes, so a browser may keep it as long as it likes.
IMMUTABLE = "public, max-age=31536000, immutable"
# The stable URLs (/sdk/v1/...) change with every release: a browser keeps its copy but asks each
# time, with the ETag, and gets a 304 while it is current.
REVALIDATE = "no-cache"


def sdk_build_hash(directory: Path = SDK_BUILD_DIR) -> str:
    """A digest of every file of the JS build (names and contents): the immutable URL's segment."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class SdkFiles(SecuredStaticFiles):
    """The JS build (clients/js, copied to app/static/sdk/v1) at two kinds of URL.

    ``/sdk/v1/<file>``: the stable URL documented since v1, always the current build, revalidated
    (ETag) on every use. ``/sdk/<hash>/<file>``: the same files under the build's content hash,
    cached forever; relative imports between the modules stay inside the same build. Any other
    hash is a 404: an old build is not kept, and a page pinned to it must be updated.
    """

    def __init__(self) -> None:
        super().__init__(directory=SDK_BUILD_DIR, cache_control=REVALIDATE)
        self.build_hash = sdk_build_hash()

    async def get_response(self, path: str, scope: Scope) -> Response:
        head, _, rest = path.partition("/")
        if head == "v1" and rest:
            response = await super().get_response(rest, scope)
            if response.status_code in {200, 304}:
                response.headers["Content-Location"] = f"{SDK_PATH}/{self.build_hash}/{rest}"
            return response
        if head == self.build_hash and rest:
            response = await super().get_response(rest, scope)
            if response.status_code in {200, 304}:
                response.headers["Cache-Control"] = IMMUTABLE
            return response
        raise HTTPException(status_code=404)


def sdk_files() -> SdkFiles:
    return SdkFiles()


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
