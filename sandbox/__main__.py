"""``python -m sandbox``: print the seed, then serve the sandbox on the configured host and port."""

from __future__ import annotations

import uvicorn

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxSettings
from sandbox.seed import seed_summary


def main() -> None:
    settings = SandboxSettings()
    print(seed_summary(settings), flush=True)
    uvicorn.run(create_sandbox_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
