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
from sandbox.seed import User, seeded_connections, users_of
from sandbox.store import ConnectionStore
from sandbox.traffic import TrafficLog


@dataclass
class SandboxRuntime:
    settings: SandboxSettings
    clock: Clock
    connections: ConnectionStore
    flows: FlowStore
    limiter: RateLimiter
    faults: ActiveFaults
    log: RequestLog
    traffic: TrafficLog
    users: dict[str, User]
    # Expiry moments set at run time (PUT /_sandbox/keys/{name}/expiry), by key name; they win
    # over the seed's, so a test can expire a key at a moment it chooses.
    key_expiry: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def start(cls, settings: SandboxSettings, clock: Clock) -> SandboxRuntime:
        runtime = cls(
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
            traffic=TrafficLog(settings.traffic_log_size, clock),
            users=users_of(settings),
        )
        runtime.seed_connections()
        return runtime

    def reset(self) -> None:
        """State, rate-limit buckets, faults and logs back to how the sandbox started."""
        self.connections.clear()
        self.seed_connections()
        self.flows.clear()
        self.limiter.reset()
        self.faults.reset()
        self.log.clear()
        self.traffic.clear()

    def seed_connections(self) -> None:
        """The generated users' connections (``SANDBOX_USERS``), the same on every start."""
        for number in range(1, self.settings.users + 1):
            for seeded in seeded_connections(number):
                self.connections.create(
                    seeded.user_id,
                    seeded.provider,
                    seeded.email,
                    set_as_calendar_sync=False,
                    now=seeded.created_at,
                    connection_id=seeded.id,
                )
        self.key_expiry.clear()


def runtime_of(app: FastAPI) -> SandboxRuntime:
    runtime: SandboxRuntime = app.state.sandbox
    return runtime


def get_runtime(request: Request) -> SandboxRuntime:
    return runtime_of(request.app)


RuntimeDep = Annotated[SandboxRuntime, Depends(get_runtime)]
