"""Faults that the sandbox injects on request: their configuration and their run-time switchboard.

The middleware that acts on them lives in ``fault_middleware.py``.
"""

from __future__ import annotations

import random
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_ERROR_STATUSES = (500, 502, 503)
API_PATH_PREFIX = "/v4/"

ErrorStatus = Annotated[int, Field(ge=400, le=599)]


class FaultConfig(BaseModel):
    """What goes wrong, set by ``SANDBOX_FAULTS`` at start or ``PUT /_sandbox/faults`` at run time.

    ``latency_ms`` to ``retry_after`` act on API requests (``/v4/...``), limited by ``times`` and
    ``paths``; the two ``consent_*`` switches act on the consent screen and are never counted.
    """

    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(default=None, ge=0, description="added delay before answering")
    error_rate: float | None = Field(
        default=None, ge=0, le=1, description="fraction of requests answered with an error status"
    )
    error_statuses: list[ErrorStatus] = Field(
        default_factory=lambda: list(DEFAULT_ERROR_STATUSES), min_length=1
    )
    hang: bool = Field(default=False, description="sleep hang_seconds before answering")
    hang_seconds: float = Field(default=3600, gt=0)
    malformed_json: bool = Field(default=False, description="200 with a truncated JSON body")
    reset: bool = Field(default=False, description="close the TCP connection with a reset")
    rate_limited: bool = Field(default=False, description="forced 429")
    retry_after: int | None = Field(default=None, ge=0, description="Retry-After on forced 429s")
    times: int | None = Field(
        default=None, ge=1, description="the API faults apply to this many requests, then clear"
    )
    paths: list[str] | None = Field(
        default=None, description="only API paths containing one of these strings"
    )
    consent_server_error: bool = Field(
        default=False, description="the consent screen's answer becomes server_error"
    )
    consent_coop: bool = Field(
        default=False, description="the consent page carries Cross-Origin-Opener-Policy"
    )

    @property
    def has_api_faults(self) -> bool:
        return bool(
            self.latency_ms
            or self.error_rate
            or self.hang
            or self.malformed_json
            or self.reset
            or self.rate_limited
        )

    def applies_to(self, path: str) -> bool:
        """Whether the API faults act on a request for ``path``."""
        if not self.has_api_faults or not path.startswith(API_PATH_PREFIX):
            return False
        return self.paths is None or any(fragment in path for fragment in self.paths)

    def without_api_faults(self) -> FaultConfig:
        """The configuration left once ``times`` has run out: only the consent switches."""
        return FaultConfig(
            consent_server_error=self.consent_server_error, consent_coop=self.consent_coop
        )


class ActiveFaults:
    """The faults in force, the ``times`` countdown, and the seeded generator for ``error_rate``."""

    def __init__(self, initial: FaultConfig, seed: int) -> None:
        self._initial = initial
        self._seed = seed
        self.config = initial.model_copy(deep=True)
        self.random = random.Random(seed)  # noqa: S311 - reproducible fault draws, not security

    def set(self, config: FaultConfig) -> None:
        self.config = config.model_copy(deep=True)

    def clear(self) -> None:
        self.config = FaultConfig()

    def reset(self) -> None:
        """Back to the configuration the sandbox started with, generator reseeded."""
        self.config = self._initial.model_copy(deep=True)
        self.random = random.Random(self._seed)  # noqa: S311

    def claim(self, path: str) -> FaultConfig | None:
        """The API faults for one request to ``path`` (counted against ``times``), or None."""
        config = self.config
        if not config.applies_to(path):
            return None
        if config.times is not None:
            remaining = config.times - 1
            self.config = (
                config.without_api_faults()
                if remaining == 0
                else config.model_copy(update={"times": remaining})
            )
        return config
