"""The ``meetergo-bff`` command: serve, demo, sandbox, check-config."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from app.config import ConfigError, load_settings, masked

EXIT_CONFIG = 2


def _serve(args: argparse.Namespace) -> int:
    from app.main import create_app
    from app.ops.logs import configure_logging
    from app.server import build_server

    settings = load_settings()
    configure_logging(settings.log_level, settings.secret_values())
    build_server(create_app(settings), settings, args.host, args.port).run()
    return 0


def _check_config(_: argparse.Namespace) -> int:
    from app.preflight import check_startup

    # Settings report every problem with the variables at once; the files and keys they name are
    # checked once the variables are usable (a key file's path must be valid to read it).
    settings = load_settings()
    check_startup(settings)
    print(json.dumps(masked(settings), indent=2, default=str))
    print("configuration is valid", file=sys.stderr)
    return 0


def _mint_ticket(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.session.tickets import mint_ticket

    settings = load_settings()
    if settings.ticket_algorithm == "HS256":
        assert settings.ticket_secret is not None  # noqa: S101 - enforced by Settings
        key: object = settings.ticket_secret.get_secret_value()
    elif args.private_key is None:
        print(
            f"meetergo-bff: tickets use {settings.ticket_algorithm}: pass --private-key PEM_FILE",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    else:
        key = Path(args.private_key).read_text(encoding="ascii")
    print(
        mint_ticket(
            key=key,
            algorithm=settings.ticket_algorithm,
            audience=settings.ticket_audience,
            issuer=settings.ticket_issuer,
            sub=args.sub,
            ttl=min(args.ttl, settings.ticket_max_age),
            meetergo_user_id=args.meetergo_user_id,
            name=args.name,
            email=args.email,
        )
    )
    return 0


def _revoke_sessions(args: argparse.Namespace) -> int:
    import asyncio

    from app.session.sessions import SessionManager
    from app.state.factory import open_shared_state

    settings = load_settings()
    if settings.redis_url is None:
        print(
            "meetergo-bff: without BFF_REDIS_URL each replica keeps its revocations in its own "
            "memory, which this command cannot reach: call POST /manage/sessions/revoke "
            "on the running service instead",
            file=sys.stderr,
        )
        return EXIT_CONFIG

    async def revoke() -> float:
        state = open_shared_state(settings)
        try:
            return await SessionManager(settings, state).revoke_user(args.user)
        finally:
            await state.aclose()

    moment = asyncio.run(revoke())
    print(f"revoked every session of {args.user!r} started before {moment:.3f} (Unix time)")
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from sandbox.app import create_sandbox_app
    from sandbox.config import SandboxSettings
    from sandbox.seed import seed_summary

    public_url = args.public_url or f"http://{args.host}:{args.port}"
    settings = SandboxSettings(host=args.host, port=args.port, public_url=public_url)
    print(seed_summary(settings), flush=True)
    uvicorn.run(create_sandbox_app(settings), host=args.host, port=args.port)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from app.demo import run_demo

    return run_demo(service_port=args.port, sandbox_port=args.sandbox_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meetergo-bff",
        description="Calendar connections through meetergo, without the API key in the browser.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the service (configuration from BFF_* variables)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser(
        "demo", help="run the service and the meetergo sandbox together; no account needed"
    )
    demo.add_argument("--port", type=int, default=8000, help="service port (default 8000)")
    demo.add_argument("--sandbox-port", type=int, default=8001, help="sandbox port (default 8001)")
    demo.set_defaults(handler=_demo)

    sandbox = commands.add_parser("sandbox", help="run only the meetergo sandbox")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8001, help="port to bind (default 8001)")
    sandbox.add_argument(
        "--public-url", help="where browsers reach the sandbox (default http://HOST:PORT)"
    )
    sandbox.set_defaults(handler=_sandbox)

    mint = commands.add_parser(
        "mint-ticket", help="mint a login ticket as the app's backend would (operators, tests)"
    )
    mint.add_argument("--sub", required=True, help="the app's user id")
    mint.add_argument("--meetergo-user-id", help="the user's meetergo user id (UUID)")
    mint.add_argument("--name", help="display name")
    mint.add_argument("--email", help="e-mail address")
    mint.add_argument("--ttl", type=int, default=60, help="lifetime in seconds (default 60)")
    mint.add_argument("--private-key", help="PEM private key file (EdDSA and RS256 only)")
    mint.set_defaults(handler=_mint_ticket)

    revoke = commands.add_parser(
        "revoke-sessions", help="end every session of one user on every replica (needs Redis)"
    )
    revoke.add_argument("--user", required=True, help="the app's user id")
    revoke.set_defaults(handler=_revoke_sessions)

    check = commands.add_parser(
        "check-config", help="validate the configuration and print it with secrets masked"
    )
    check.set_defaults(handler=_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        count = len(exc.problems)
        print(
            f"meetergo-bff: invalid configuration, {count} problem{'s' if count != 1 else ''}:",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return code


if __name__ == "__main__":
    raise SystemExit(main())
