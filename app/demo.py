"""The demo: the service and the meetergo sandbox in one process, no account needed.

The service listens on ``http://localhost:<port>`` and the sandbox on ``http://127.0.0.1:<port>``:
two different sites, so the browser treats the return from the consent screen as the cross-site
navigation it is in production, and the cookie rules are the real ones.

The demo's signing keys are generated afresh on each start; nothing is written to disk.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import uvicorn

from app.config import Settings, load_settings
from app.main import create_app
from app.ops.logs import configure_logging
from app.server import build_server

SERVICE_HOST = "localhost"
SANDBOX_HOST = "127.0.0.1"


@dataclass(frozen=True)
class DemoUser:
    """A user of the demo's imaginary app, and their meetergo user in the sandbox (if any)."""

    app_user_id: str
    name: str
    meetergo_user_id: str | None


def demo_users() -> tuple[DemoUser, ...]:
    from sandbox import seed  # noqa: PLC0415 - the sandbox is a development dependency here

    return (
        DemoUser("alice", "Alice Admin", seed.ALICE_ID),
        DemoUser("bob", "Bob Builder", seed.BOB_ID),
        DemoUser("dave", "Dave (no meetergo account)", None),
    )


def demo_settings(service_port: int, sandbox_port: int) -> Settings:
    from sandbox import seed  # noqa: PLC0415

    return load_settings(
        _env_file=None,
        environment="development",
        demo=True,
        public_url=f"http://{SERVICE_HOST}:{service_port}",
        meetergo_base_url=f"http://{SANDBOX_HOST}:{sandbox_port}",
        # A company-wide key that may not act for other users: the service never needs to.
        meetergo_api_key=seed.MEMBER_KEY,
        session_keys=[secrets.token_urlsafe(32)],
        ticket_secret=secrets.token_urlsafe(32),
    )


async def _serve_both(service: uvicorn.Server, sandbox: uvicorn.Server) -> None:
    await asyncio.gather(service.serve(), sandbox.serve())


def run_demo(service_port: int = 8000, sandbox_port: int = 8001) -> int:
    from sandbox.app import create_sandbox_app  # noqa: PLC0415
    from sandbox.config import SandboxSettings  # noqa: PLC0415
    from sandbox.seed import seed_summary  # noqa: PLC0415

    settings = demo_settings(service_port, sandbox_port)
    configure_logging(settings.log_level, settings.secret_values())
    sandbox_settings = SandboxSettings(
        host=SANDBOX_HOST, port=sandbox_port, public_url=f"http://{SANDBOX_HOST}:{sandbox_port}"
    )
    service = build_server(create_app(settings), settings, SERVICE_HOST, service_port)
    sandbox = uvicorn.Server(
        uvicorn.Config(
            create_sandbox_app(sandbox_settings),
            host=SANDBOX_HOST,
            port=sandbox_port,
            log_level="warning",
        )
    )
    print(seed_summary(sandbox_settings))  # noqa: T201
    print(_banner(settings, sandbox_settings.public_url), flush=True)  # noqa: T201
    asyncio.run(_serve_both(service, sandbox))
    return 0


def _banner(settings: Settings, sandbox_url: str) -> str:
    users = ", ".join(f"{user.app_user_id}" for user in demo_users())
    return "\n".join(
        [
            "",
            "meetergo-calendar-bff demo",
            f"  open in a browser:  {settings.public_url}/   (sign in as a demo user)",
            f"  service:  {settings.public_url}   (health: {settings.public_url}/readyz)",
            f"  sandbox:  {sandbox_url}   (meetergo's API and the consent screens)",
            f"  demo app users: {users}",
            "  stop with Ctrl+C",
            "",
        ]
    )
