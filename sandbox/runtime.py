"""Everything one sandbox app holds in memory, and the dependency that hands it to the routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from sandbox.clock import Clock
from sandbox.config import SandboxSettings
from sandbox.consent.flows import FlowStore
from sandbox.faults import ActiveFaults
from sandbox.ratelimit import RateLimiter
from sandbox.recorder import RequestLog
from sandbox.store import ConnectionStore


@dataclass
class SandboxRuntime:
    settings: SandboxSettings
    clock: Clock
    connections: ConnectionStore
    flows: FlowStore
    limiter: RateLimiter
    faults: ActiveFaults
    log: RequestLog
    # Expiry moments set at run time (PUT /_sandbox/keys/{name}/expiry), by key name; they win
    # over the seed's, so a test can expire a key at a moment it chooses.
    key_expiry: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def start(cls, settings: SandboxSettings, clock: Clock) -> SandboxRuntime:
        return cls(
            settings=settings,
            clock=clock,
            connections=ConnectionStore(),
            flows=FlowStore(clock, settings.state_ttl_seconds),
            limiter=RateLimiter(
                per_minute=settings.rate_limit_per_minute,
                burst=settings.rate_limit_burst,
                clock=clock,
            ),
            faults=ActiveFaults(settings.faults, settings.random_seed),
            log=RequestLog(settings.request_log_size),
        )

    def reset(self) -> None:
        """State, rate-limit buckets, faults and log back to how the sandbox started."""
        self.connections.clear()
        self.flows.clear()
        self.limiter.reset()
        self.faults.reset()
        self.log.clear()
        self.key_expiry.clear()


def runtime_of(app: FastAPI) -> SandboxRuntime:
    runtime: SandboxRuntime = app.state.sandbox
    return runtime


def get_runtime(request: Request) -> SandboxRuntime:
    return runtime_of(request.app)


RuntimeDep = Annotated[SandboxRuntime, Depends(get_runtime)]
