"""The service's configuration: one typed object, read once, refused early when unsafe.

Every setting comes from an environment variable prefixed ``BFF_`` (or a ``.env`` file). Nothing
else in the service reads the environment. :func:`load_settings` turns pydantic's validation
errors into messages that name the variable and say what to set.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "BFF_"
MIN_KEY_BYTES = 32

# Values that people paste from examples and forget. A key containing one of these is refused.
_PLACEHOLDER_MARKERS = (
    "change",
    "replace",
    "placeholder",
    "example",
    "your-",
    "your_",
    "todo",
    "dummy",
    "xxxx",
    "insecure",
)
_MIN_DISTINCT_CHARS = 8
_ORIGIN_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$")
_PROVIDER = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
# meetergo's provider enum (see docs/upstream.md); the service offers a configured subset.
MEETERGO_PROVIDERS = ("google", "outlook", "icloud", "caldav", "exchange", "smart-we", "ics")


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    return f"{ENV_PREFIX}{field.upper()}"


def _split_list(value: Any) -> Any:
    """Accept a list, a JSON array, or a comma-separated string."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def placeholder_reason(secret: str) -> str | None:
    """Why ``secret`` looks like a placeholder rather than a generated key, or None."""
    lowered = secret.lower()
    for marker in _PLACEHOLDER_MARKERS:
        if marker in lowered:
            return f"it contains {marker!r}, which marks a placeholder"
    if len(set(secret)) < _MIN_DISTINCT_CHARS:
        return "it has too few distinct characters to be a random key"
    return None


PERSONAL_TOKEN_PREFIX = "rgo-"  # noqa: S105 - a prefix, not a secret


def api_key_problem(key: str) -> str | None:
    """What is wrong with ``key`` as the service's meetergo key, with how to fix it; or None."""
    if not key.strip():
        return "is empty: set it to your meetergo platform API key (ak_live:...)"
    if key.strip().startswith(PERSONAL_TOKEN_PREFIX):
        # meetergo answers 403 when a personal token names another user in
        # x-meetergo-api-user-id, and the service names every signed-in user there.
        return (
            "is a personal access token (rgo-...), which acts only as its owner: meetergo refuses "
            "it for every other user. Create a platform API key (ak_live:...) in meetergo's "
            "company settings (owners and admins can) and set that"
        )
    reason = placeholder_reason(key)
    if reason:
        return f"looks like a placeholder ({reason}): set it to your meetergo API key"
    return None


def check_signing_key(name: str, secret: str) -> None:
    """Refuse a signing key that is short or a placeholder; the message says what to set."""
    hint = (
        "generate one with: "
        f"python -c 'import secrets; print(secrets.token_urlsafe({MIN_KEY_BYTES}))'"
    )
    if len(secret.encode()) < MIN_KEY_BYTES:
        raise ValueError(f"{name} is shorter than {MIN_KEY_BYTES} bytes; {hint}")
    reason = placeholder_reason(secret)
    if reason:
        raise ValueError(f"{name} looks like a placeholder ({reason}); {hint}")


def parse_origin(value: str) -> str:
    """Return ``value`` if it is exactly ``scheme://host[:port]``, else raise ValueError."""
    parts = urlsplit(value)
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "the scheme must be http or https"
    elif parts.username is not None or parts.password is not None:
        problem = "it must not carry a user name or password"
    elif not parts.hostname or not _ORIGIN_HOST.match(parts.netloc.rsplit(":", 1)[0].lower()):
        problem = "the host is missing or malformed"
    elif parts.path or parts.query or parts.fragment or value.endswith(("?", "#")):
        problem = "it must have no path, query or fragment (not even a trailing slash)"
    elif parts.netloc != parts.netloc.lower():
        problem = "the host must be lower case"
    if problem is None:
        try:
            port = parts.port
        except ValueError:
            problem = "the port is not a number between 0 and 65535"
        else:
            if port is not None and f":{port}" != parts.netloc[parts.netloc.rfind(":") :]:
                problem = "the port is written in a non-canonical form"
    if problem:
        raise ValueError(f"{value!r} is not an exact origin scheme://host[:port]: {problem}")
    return value


class Settings(BaseSettings):
    """Everything the service can be told. See ``.env.example`` and docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        frozen=True,
    )

    # -- deployment ------------------------------------------------------------------------------
    environment: Literal["production", "development"] = Field(
        default="production",
        description="`development` allows plain-http URLs on this machine; "
        "never use it in production.",
    )
    public_url: str = Field(
        description="The origin at which browsers reach this service, e.g. https://calendar.example.com.",
    )
    app_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins of the web app allowed to call the service (comma-separated, exact "
        "scheme://host[:port]). Empty means the service's own public origin.",
    )
    demo: bool = Field(
        default=False,
        description="Serve the demo login and settings pages. Only allowed in development.",
    )

    # -- meetergo --------------------------------------------------------------------------------
    meetergo_api_key: SecretStr = Field(
        description="meetergo platform API key (ak_live:...). Sent only to meetergo.",
    )
    meetergo_api_key_next: SecretStr | None = Field(
        default=None,
        description="The key that replaces BFF_MEETERGO_API_KEY: tried only when meetergo "
        "refuses the current key with 401, then used from there on. Set it before the current "
        "key expires; see docs/operations.md (key rotation).",
    )
    meetergo_base_url: str = Field(
        default="https://api.meetergo.com",
        description="meetergo's API base URL (the sandbox's URL in the demo and tests).",
    )
    providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["google", "outlook"],
        description="Calendar providers offered to users (comma-separated).",
    )
    api_prefix: str = Field(default="/api", description="Path prefix of the calendar API routes.")
    disabled_routes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Calendar routes switched off, by operation id (comma-separated), e.g. "
        "deleteConnection. They answer 404 and are left out of the OpenAPI document.",
    )

    max_in_flight: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Requests one worker handles at once; beyond, it answers 503 `overloaded` "
        "with Retry-After at once (health, readiness and metrics are exempt).",
    )
    max_loop_lag: float = Field(
        default=0.5,
        gt=0,
        le=10,
        description="Seconds the worker's event loop may run late (short of CPU) before it "
        "refuses new requests with 503 `overloaded` until it catches up.",
    )

    # -- upstream HTTP client --------------------------------------------------------------------
    upstream_connect_timeout: float = Field(
        default=3.0, gt=0, le=60, description="Seconds to open a connection to meetergo."
    )
    upstream_read_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to wait for each read from meetergo."
    )
    upstream_write_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to wait for each write to meetergo."
    )
    upstream_pool_timeout: float = Field(
        default=3.0, gt=0, le=60, description="Seconds to wait for a free pooled connection."
    )
    upstream_deadline: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Overall seconds for one proxied call, retries included.",
    )
    upstream_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        description="Extra attempts for reads after a connection error or a 502/503/504.",
    )
    upstream_max_connections: int = Field(
        default=20, ge=1, le=1000, description="Connections to meetergo per process."
    )
    upstream_max_keepalive: int = Field(
        default=10, ge=0, le=1000, description="Idle keep-alive connections kept per process."
    )

    # -- meetergo's rate limit: the budget, the read cache ---------------------------------------
    budget_per_minute: int = Field(
        default=90,
        ge=1,
        le=10_000,
        description="Upstream calls this service makes with one API key in any 60 s window, "
        "across all replicas. Keep it below meetergo's limit (100/min per key) by a margin.",
    )
    budget_write_reserve: int = Field(
        default=10,
        ge=0,
        le=1_000,
        description="Calls of each 60 s window that only writes and connects may use, so reads "
        "can never starve a user's change.",
    )
    budget_refresh_reserve: int = Field(
        default=20,
        ge=0,
        le=1_000,
        description="Most calls that refreshes of already cached reads leave to first reads; "
        "they leave as many as first reads were asked for in the window, up to this. A "
        "refresh that finds no budget serves the cached copy, marked stale.",
    )
    budget_per_user_per_minute: int = Field(
        default=20,
        ge=0,
        le=10_000,
        description="Upstream calls one app user may cause in any 60 s window (0: no per-user "
        "share). Cached answers cost nothing.",
    )
    budget_max_wait: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="Seconds a call may wait in the fair queue for budget before it is refused "
        "with 429 and Retry-After.",
    )
    budget_refresh_wait: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Seconds a refresh of a cached read may wait for budget, behind every other "
        "call, before the cached copy is served marked stale (0: serve it at once).",
    )
    budget_max_waiters: int = Field(
        default=200,
        ge=0,
        le=100_000,
        description="Calls one process lets wait for budget at once; beyond it they are refused "
        "at once.",
    )
    budget_replicas: int = Field(
        default=3,
        ge=1,
        le=1_000,
        description="Replicas sharing the API key. Used only while Redis is unreachable: each "
        "replica then spends at most 1/N of the budget on its own.",
    )
    upstream_rate_limit_pause: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="Seconds every replica stops calling meetergo after it answers 429 without "
        "a usable Retry-After.",
    )
    cache_ttl: float = Field(
        default=30.0,
        ge=0,
        le=3_600,
        description="Seconds a read (connections, a connection's calendars) stays fresh in the "
        "per-user cache; 0 turns caching off.",
    )
    cache_max_stale: float = Field(
        default=600.0,
        ge=0,
        le=86_400,
        description="Seconds past freshness a cached read may still be served, marked stale, "
        "when the budget is spent or meetergo fails.",
    )
    cache_max_users: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="meetergo users whose reads one process keeps without Redis (least "
        "recently used dropped first).",
    )

    # -- sessions --------------------------------------------------------------------------------
    session_keys: Annotated[list[SecretStr], NoDecode] = Field(
        description="Cookie and token signing keys, newest first (comma-separated). "
        "The first signs, all verify; at least 32 bytes each.",
    )

    session_idle_timeout: int = Field(
        default=1800, ge=60, le=86400, description="Seconds without activity before a session ends."
    )
    session_absolute_timeout: int = Field(
        default=43200, ge=300, le=30 * 86400, description="Seconds after login when a session ends."
    )
    session_refresh_interval: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="The sliding cookie is re-issued at most this often (seconds).",
    )
    revocation_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="With Redis: seconds a replica remembers a session it found not revoked, "
        "so that its requests skip the revocation check's Redis round trip. A revocation reaches "
        "every replica at once by a Redis notice; a replica that cannot confirm it hears them "
        "asks Redis on every request. 0 turns it off.",
    )
    insecure_cookies: bool = Field(
        default=False,
        description="Development only: cookies without Secure and without the __Host-Http- prefix, "
        "for browsers that refuse Secure cookies on http://localhost.",
    )

    logout_clear_site_data: bool = Field(
        default=True,
        description='Send Clear-Site-Data: "cookies" on logout. Browsers then clear every cookie '
        "of the service's registrable domain: turn it off when the app shares that domain and "
        "keeps its own cookies there.",
    )

    # -- login tickets ---------------------------------------------------------------------------
    ticket_algorithm: Literal["HS256", "EdDSA", "RS256"] = Field(
        default="HS256", description="The one JWT algorithm accepted for login tickets."
    )
    ticket_secret: SecretStr | None = Field(
        default=None,
        description="HS256 shared secret (>= 32 bytes) that the app's backend signs tickets with.",
    )
    ticket_public_key: str | None = Field(
        default=None,
        description="EdDSA or RS256: the PEM public key, or the path of a file holding it.",
    )
    ticket_audience: str = Field(
        default="meetergo-calendar-bff",
        min_length=1,
        description="Required `aud` claim of login tickets.",
    )
    ticket_issuer: str | None = Field(
        default=None, description="Required `iss` claim of login tickets, when set."
    )
    ticket_max_age: int = Field(
        default=300, ge=10, le=3600, description="Longest accepted ticket lifetime (exp - iat)."
    )

    # -- user mapping ----------------------------------------------------------------------------
    user_mapping: Literal["claim", "file", "http"] = Field(
        default="claim",
        description="Where meetergo user ids come from besides the ticket's meetergo_user_id "
        "claim: claim (only there), file, or http (the app's endpoint).",
    )
    user_mapping_file: str | None = Field(
        default=None, description="JSON or CSV file mapping app user ids to meetergo user ids."
    )
    user_mapping_url: str | None = Field(
        default=None,
        description='The app\'s endpoint: GET <url>?user=<id> answers {"meetergoUserId": ...}.',
    )
    user_mapping_timeout: float = Field(
        default=2.0, gt=0, le=30, description="Seconds to wait for the mapping endpoint."
    )
    user_mapping_cache_ttl: int = Field(
        default=300,
        ge=0,
        le=86400,
        description='Seconds a mapping endpoint answer is cached (a "not mapped" answer at '
        "most 30). This bounds how long a mapping change takes to reach open sessions: the "
        "meetergo user id is looked up on every call, never kept in the session cookie, so a "
        "user removed from the mapping, moved to another id or answered 404 is refused or "
        "switched within this time (a mapping file within a second of the change). Only a "
        "login ticket's own meetergo_user_id claim stays fixed for the session.",
    )

    # -- serving -------------------------------------------------------------------------------
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Proxies whose X-Forwarded-For/-Proto are believed (comma-separated IPs or "
        "CIDRs; '*' trusts every peer: only behind a proxy that overwrites those headers).",
    )
    max_header_bytes: int = Field(
        default=16384,
        ge=1024,
        le=1048576,
        description="Largest request line plus headers, in bytes; more is refused with 431.",
    )
    max_header_count: int = Field(
        default=100, ge=10, le=10000, description="Most request headers; more is refused with 431."
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a client has to send a request's headers; then 408 and close.",
    )
    body_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a client has to send a request's body after its headers; then close.",
    )
    max_connections: int = Field(
        default=1000,
        ge=10,
        le=100000,
        description="Open client connections per process; the next one is answered 503 and closed.",
    )
    shutdown_drain_seconds: float = Field(
        default=5.0,
        ge=0,
        le=120,
        description="On SIGTERM, seconds to keep serving while /readyz says not ready.",
    )
    shutdown_grace_seconds: int = Field(
        default=20, ge=1, le=600, description="Then, seconds in-flight requests get to finish."
    )

    # -- observability ---------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Level of the JSON logs on stdout."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token Prometheus sends to scrape /metrics (>= 32 bytes). "
        "Unset: /metrics answers 404.",
    )

    # -- operations ------------------------------------------------------------------------------
    management_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the management endpoints (>= 32 bytes). Unset: disabled.",
    )

    # -- shared state ----------------------------------------------------------------------------
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis URL for state shared by replicas. "
        "Unset: in-process state (one replica).",
    )

    redis_prefix: str = Field(
        default="mbff:",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of every Redis key, so deployments can share one Redis database.",
    )
    redis_timeout: float = Field(
        default=1.0, gt=0, le=30, description="Seconds to wait for Redis to connect or answer."
    )

    # -- parsing ---------------------------------------------------------------------------------
    @field_validator(
        "redis_url",
        "meetergo_api_key_next",
        "ticket_secret",
        "ticket_public_key",
        "ticket_issuer",
        "user_mapping_file",
        "user_mapping_url",
        "management_token",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "app_origins",
        "providers",
        "session_keys",
        "disabled_routes",
        "forwarded_allow_ips",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("public_url", "meetergo_base_url", mode="before")
    @classmethod
    def _strip_trailing_slash(cls, value: Any) -> Any:
        return value.rstrip("/") if isinstance(value, str) else value

    @field_validator("app_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [parse_origin(origin) for origin in value]

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return parse_origin(value)

    @field_validator("meetergo_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
        ):
            raise ValueError(f"{value!r} is not an absolute http(s) URL")
        return value

    @field_validator("meetergo_api_key")
    @classmethod
    def _api_key(cls, value: SecretStr) -> SecretStr:
        problem = api_key_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("meetergo_api_key_next")
    @classmethod
    def _next_api_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return None
        problem = api_key_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        current = info.data.get("meetergo_api_key")
        if current is not None and current.get_secret_value() == value.get_secret_value():
            raise ValueError(
                f"is the same key as {env_name('meetergo_api_key')}: set it to the new key, or "
                "leave it unset when no rollover is in progress"
            )
        return value

    @field_validator("session_keys")
    @classmethod
    def _session_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        if not value:
            raise ValueError("needs at least one key")
        for index, key in enumerate(value):
            check_signing_key(f"key #{index + 1}", key.get_secret_value())
        return value

    @field_validator("providers")
    @classmethod
    def _providers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one provider")
        for provider in value:
            if not _PROVIDER.match(provider) or provider not in MEETERGO_PROVIDERS:
                raise ValueError(
                    f"{provider!r} is not one of meetergo's providers {MEETERGO_PROVIDERS}"
                )
        return list(dict.fromkeys(value))

    @field_validator("api_prefix")
    @classmethod
    def _api_prefix(cls, value: str) -> str:
        if not re.fullmatch(r"(/[a-z0-9][a-z0-9_-]*)+", value):
            raise ValueError(
                f"{value!r} must look like /api: lower case segments, no trailing slash"
            )
        return value

    @field_validator("ticket_secret", "management_token", "metrics_token")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_signing_key("the value", value.get_secret_value())
        return value

    @field_validator("user_mapping_url")
    @classmethod
    def _mapping_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
                raise ValueError(f"{value!r} is not an absolute http(s) URL")
        return value

    # -- rules between settings ------------------------------------------------------------------
    # Written as validators of the later field (``info.data`` holds the earlier, valid fields),
    # not as one model validator: pydantic runs a model validator only when every field is valid,
    # so an operator would fix one round of problems to be shown the next. A rule whose other
    # field is itself invalid stays quiet: that field's own problem is reported instead.
    @field_validator("ticket_secret")
    @classmethod
    def _secret_for_hs256(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("ticket_algorithm") == "HS256" and value is None:
            raise ValueError(
                f"{env_name('ticket_secret')} is not set: login tickets use HS256, so set the "
                f"shared secret the app's backend signs them with, or set "
                f"{env_name('ticket_algorithm')} and {env_name('ticket_public_key')}"
            )
        return value

    @field_validator("ticket_public_key")
    @classmethod
    def _public_key_for_asymmetric(cls, value: str | None, info: ValidationInfo) -> str | None:
        algorithm = info.data.get("ticket_algorithm")
        if algorithm in ("EdDSA", "RS256") and value is None:
            raise ValueError(
                f"{env_name('ticket_public_key')} is not set: {algorithm} tickets are "
                "checked with the app's public key (PEM text or a file path)"
            )
        return value

    @field_validator("user_mapping_file")
    @classmethod
    def _file_for_file_mapping(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("user_mapping") == "file" and not value:
            raise ValueError(
                f"{env_name('user_mapping_file')} is not set: user mapping is 'file'; set the "
                "path of the JSON or CSV mapping file"
            )
        return value

    @field_validator("user_mapping_url")
    @classmethod
    def _url_for_http_mapping(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("user_mapping") == "http" and not value:
            raise ValueError(
                f"{env_name('user_mapping_url')} is not set: user mapping is 'http'; set the "
                "URL of the app's mapping endpoint"
            )
        return value

    @field_validator("session_refresh_interval")
    @classmethod
    def _refresh_inside_idle(cls, value: int, info: ValidationInfo) -> int:
        idle = info.data.get("session_idle_timeout")
        if idle is not None and value * 2 > idle:
            raise ValueError(
                f"{env_name('session_refresh_interval')} must be at most half of "
                f"{env_name('session_idle_timeout')}, or active users would time out; "
                f"lower it to {idle // 2} or less"
            )
        return value

    @field_validator("session_absolute_timeout")
    @classmethod
    def _absolute_after_idle(cls, value: int, info: ValidationInfo) -> int:
        idle = info.data.get("session_idle_timeout")
        if idle is not None and idle > value:
            raise ValueError(
                f"{env_name('session_idle_timeout')} must not exceed "
                f"{env_name('session_absolute_timeout')}; lower the idle timeout or raise "
                "the absolute one"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _https_public_url(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("environment") == "production" and not value.startswith("https://"):
            raise ValueError(
                f"{env_name('public_url')} must be https outside local development; "
                f"set an https URL, or {env_name('environment')}=development on a developer machine"
            )
        return value

    @field_validator("app_origins")
    @classmethod
    def _https_app_origins(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("environment") == "production":
            for origin in value:
                if not origin.startswith("https://"):
                    raise ValueError(
                        f"{env_name('app_origins')}: {origin!r} must be https "
                        "outside local development"
                    )
        return value

    @field_validator("insecure_cookies")
    @classmethod
    def _insecure_only_locally(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("environment") == "production":
            raise ValueError(
                f"{env_name('insecure_cookies')}=true drops the Secure cookie flag and is only "
                f"allowed with {env_name('environment')}=development; remove it"
            )
        return value

    @field_validator("demo")
    @classmethod
    def _demo_only_locally(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("environment") == "production":
            raise ValueError(
                f"{env_name('demo')}=true serves demo logins and is only allowed with "
                f"{env_name('environment')}=development; remove it"
            )
        return value

    @field_validator("budget_refresh_reserve")
    @classmethod
    def _reserves_below_budget(cls, value: int, info: ValidationInfo) -> int:
        budget, writes = info.data.get("budget_per_minute"), info.data.get("budget_write_reserve")
        if budget is not None and writes is not None and writes + value >= budget:
            raise ValueError(
                f"{env_name('budget_write_reserve')} + {env_name('budget_refresh_reserve')} "
                f"({writes + value}) must be below {env_name('budget_per_minute')} ({budget}), "
                "or refreshes could never call meetergo; lower the reserves"
            )
        return value

    # -- derived ---------------------------------------------------------------------------------
    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """The app origins, defaulting to the service's own origin (same-origin deployment)."""
        return tuple(self.app_origins) or (self.public_url,)

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log filter that redacts them."""
        values: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            items = value if isinstance(value, list) else [value]
            values += [item.get_secret_value() for item in items if isinstance(item, SecretStr)]
        return values

    @property
    def is_development(self) -> bool:
        return self.environment == "development"


# What to tell the operator when a required variable is missing.
_MISSING_HINTS = {
    "public_url": "set it to the https origin where browsers reach this service",
    "meetergo_api_key": "set it to your meetergo platform API key (ak_live:...)",
    "session_keys": "set it to a random key of at least 32 bytes "
    "(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
}


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` has one operator-readable line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def describe_validation_error(error: ValidationError) -> list[str]:
    """Operator-readable lines for a Settings validation error: variable, problem, what to set."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        location = item.get("loc", ())
        if not location:
            lines.append(message)
            continue
        field = str(location[0])
        if item.get("type") == "missing":
            hint = _MISSING_HINTS.get(field, "set it")
            lines.append(f"{env_name(field)} is not set: {hint}")
        elif message.startswith(env_name(field)):
            lines.append(message)  # a rule between settings names its variable itself
        else:
            lines.append(f"{env_name(field)}: {message}")
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Read the settings (environment, ``.env``, ``overrides``) or raise :class:`ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration with every secret masked, for ``check-config`` and logs."""
    out: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        out[env_name(name)] = _mask(value)
    return out


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return f"****** ({len(secret)} chars)" if secret else ""
    if isinstance(value, list):
        return [_mask(item) for item in value]
    return value
