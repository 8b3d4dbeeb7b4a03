"""The sandbox's settings: one typed object, read from ``SANDBOX_*`` environment variables."""

from __future__ import annotations

import json
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sandbox.faults import FaultConfig


class SandboxSettings(BaseSettings):
    """Everything an operator can change. Nothing else in the sandbox reads the environment."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)
    public_url: str = Field(
        default="http://127.0.0.1:8001",
        description="where browsers reach the sandbox; the base of every authUrl",
    )
    rate_limit_per_minute: float = Field(
        default=100, gt=0, description="tokens a key's bucket regains per minute (meetergo: 100)"
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, description="a key's bucket holds this many tokens (meetergo: 200)"
    )
    rate_limit_retry_after: Literal["none", "computed"] | Annotated[int, Field(ge=0)] = Field(
        default="none",
        description="Retry-After on a rate-limited 429: none (meetergo sends none), computed "
        "(whole seconds until the bucket has a token) or a fixed number of seconds",
    )
    users: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="generated users of the sandbox company, each with 1-3 connections",
    )
    validation_message_form: Literal["list", "string"] = "list"
    result_params: Literal["current", "legacy"] = "current"
    redirect_query: Literal["keep", "drop"] = "keep"
    faults: Annotated[FaultConfig, NoDecode] = Field(default_factory=FaultConfig)
    random_seed: int = 0
    state_ttl_seconds: float = Field(default=600, gt=0)
    request_log_size: int = Field(
        default=1000, ge=1, description="the request log keeps this many newest entries"
    )
    traffic_log_size: int = Field(
        default=200_000,
        ge=1,
        description="API calls kept for GET /_sandbox/traffic (a few numbers each)",
    )

    @field_validator("faults", mode="before")
    @classmethod
    def _faults_from_json(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            parsed: object = json.loads(value)
        except ValueError:
            raise ValueError(
                'SANDBOX_FAULTS must be a JSON object, e.g. {"error_rate": 0.2, "times": 5}'
            ) from None
        return parsed

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "SANDBOX_PUBLIC_URL must be an absolute http(s) URL, e.g. http://127.0.0.1:8001"
            )
        if parts.query or parts.fragment:
            raise ValueError("SANDBOX_PUBLIC_URL must not carry a query or a fragment")
        return value.rstrip("/")
