"""One nested settings object for every component, read from `STOA_*` environment variables.

Built once at start (`Settings()`), then passed down. Nothing else reads `os.environ`.
Nested groups use a double underscore: `STOA_AUTH__ROLES_CLAIM=realm_access.roles`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseModel):
    """How the control plane reads bearer tokens."""

    roles_claim: str = Field(
        default="roles",
        description="Dotted path of the claim holding the caller's roles, "
        "e.g. `realm_access.roles` for Keycloak.",
    )
    tenant_claim: str = Field(
        default="tenant", description="Dotted path of the claim holding the caller's tenant slug."
    )
    audience: str | None = Field(
        default=None,
        description="Audience that control-plane tokens must carry; defaults to STOA_PUBLIC_URL.",
    )
    jwks_cache_seconds: int = Field(
        default=300, ge=1, description="How long an external issuer's JWKS is cached."
    )
    role_map: dict[str, str] = Field(
        default_factory=dict,
        description="Renames the roles an external issuer puts in its tokens to STOA roles, "
        'as JSON: `{"platform-admins": "cpi-admin", "api-owners": "tenant-admin"}`. Names '
        "not in the map are used as they are; names that are not STOA roles are ignored.",
    )
    clock_skew_seconds: int = Field(
        default=30,
        ge=0,
        le=300,
        description="Clock difference tolerated when checking a token's `exp`, `nbf` and `iat`.",
    )
    access_token_minutes: int = Field(
        default=15, ge=1, description="Lifetime of tokens minted by `stoa admin token`."
    )


class IdentitySettings(BaseModel):
    """The embedded authorization server (off when STOA_OIDC_ISSUER is set)."""

    refresh_token_days: int = Field(
        default=30, ge=1, le=365, description="Lifetime of refresh tokens (rotated on each use)."
    )
    login_session_hours: int = Field(
        default=8, ge=1, le=720, description="How long a browser stays signed in."
    )
    registrations_per_ip_per_hour: int = Field(
        default=20,
        ge=1,
        description="Dynamic client registrations accepted per client address and hour.",
    )


class FetchSettings(BaseModel):
    """Outbound fetches the control plane makes for users (OpenAPI URLs, MCP servers)."""

    allow_private_networks: bool | None = Field(
        default=None,
        description="Allow loopback and private (RFC 1918, ULA) addresses. Unset means: allowed "
        "with the embedded SQLite database (the `stoa up` demo serves its APIs on loopback), "
        "refused otherwise. Link-local and cloud metadata addresses are always refused.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time limit of each fetch, connection included."
    )
    max_response_bytes: int = Field(
        default=5_000_000, gt=0, description="Largest response body accepted from a fetch."
    )


class McpSettings(BaseModel):
    """The gateway's MCP endpoint (`STOA_GATEWAY__MCP__*`)."""

    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (`https://app.example`) allowed to call /mcp, besides the "
        "gateway's own and loopback pages; `*` allows any. Requests without Origin always pass.",
    )
    tool_separator: str = Field(
        default="__",
        min_length=1,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Between API and tool name on /mcp: `toolbox__echo`.",
    )
    page_size: int = Field(
        default=100, ge=1, le=10_000, description="Tools per tools/list page on /mcp."
    )
    session_hours: float = Field(
        default=24.0, gt=0, description="Lifetime of an MCP session id (2025-* protocol versions)."
    )
    list_ttl_ms: int = Field(
        default=60_000,
        ge=0,
        description="How long 2026-07-28 clients may cache list results (`ttlMs`).",
    )


class UsageShippingSettings(BaseModel):
    """How a gateway ships usage to the control plane (`STOA_GATEWAY__USAGE__*`)."""

    flush_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often each worker writes its buffered usage events to the spool "
        "(fsynced) and sends them on: a gateway killed with SIGKILL loses at most this "
        "long's events.",
    )
    spool_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=4096,
        description="Size limit of each worker's spool in $STOA_DATA_DIR/usage-spool. When "
        "it is full, new batches are dropped (counted in "
        '`stoa_gateway_usage_lost_events_total{reason="spool_full"}`) and the queued ones '
        "kept.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time the control plane has to answer one batch."
    )
    shutdown_seconds: float = Field(
        default=5.0,
        ge=0,
        description="On SIGTERM, how long a worker keeps sending queued batches before it "
        "leaves the rest in the spool for its next start.",
    )


class UsageRetentionSettings(BaseModel):
    """How long the control plane keeps usage (`STOA_USAGE__*`). Daily rollups are kept."""

    event_retention_days: int = Field(
        default=7,
        ge=1,
        description="Raw usage events (one row per call, as the gateways sent them) older "
        "than this are deleted; the rollups built from them stay.",
    )
    minute_rollup_retention_days: int = Field(
        default=14,
        ge=1,
        description="Per-minute rollups older than this are deleted (`/v1/usage` with "
        "`granularity=minute` then shows nothing before it); daily rollups are kept.",
    )
    batch_key_retention_days: int = Field(
        default=35,
        ge=1,
        description="How long a delivered batch's idempotency key is remembered: a gateway "
        "that retries a batch later than this (after an outage longer than this) has it "
        "counted again.",
    )


class GatewaySettings(BaseModel):
    """How `stoa gateway` serves (`STOA_GATEWAY__*`)."""

    workers: int | None = Field(
        default=None, ge=1, le=256, description="Worker processes; unset means one per CPU."
    )
    access_log: bool = Field(
        default=True, description="Write one JSON access-log line per request to stdout."
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1,
        description="Largest request body accepted when no body_size policy says otherwise.",
    )
    upstream_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Time an upstream has to answer before a 504."
    )
    connect_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Time an upstream has to accept a connection."
    )
    retries: int = Field(
        default=1,
        ge=0,
        le=3,
        description="Extra attempts for idempotent requests whose upstream connection fails.",
    )
    breaker_failures: int = Field(
        default=5, ge=1, description="Consecutive upstream failures that open its circuit."
    )
    breaker_cooldown_seconds: float = Field(
        default=10.0, gt=0, description="How long an open circuit fails calls fast."
    )
    redis_timeout_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Time Redis has to answer a rate-limit call before the gateway falls back "
        "to local limits for that call.",
    )
    name: str | None = Field(
        default=None,
        description="How this gateway is named in the control plane's fleet (`/v1/gateways`); "
        "unset means the host name.",
    )
    sync_wait_seconds: float = Field(
        default=25.0,
        gt=0,
        le=30,
        description="How long each long poll for config changes may wait at the control plane.",
    )
    sync_backoff_max_seconds: float = Field(
        default=30.0,
        ge=1,
        description="Longest pause between reconnection attempts while the control plane is "
        "unreachable (exponential backoff with full jitter, from 0.5 s).",
    )
    mcp: McpSettings = McpSettings()
    usage: UsageShippingSettings = UsageShippingSettings()


class Settings(BaseSettings):
    """Every STOA setting. Field names map to `STOA_<NAME>` variables."""

    model_config = SettingsConfigDict(
        env_prefix="STOA_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default=Path(".stoa"),
        description="Embedded database, keys, gateway snapshot and spool.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means SQLite at $STOA_DATA_DIR/stoa.db. "
        "`postgresql://` URLs use asyncpg.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for rate-limit and quota counters shared by gateway replicas; "
        "unset means per-process counters.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="External OIDC issuer whose tokens are trusted; unset means the built-in one.",
    )
    public_url: str = Field(default="http://127.0.0.1:8000", description="Control plane URL.")
    gateway_public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Gateway URL as agents reach it; the audience of tokens for the gateway.",
    )
    control_plane_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where a gateway reaches the control plane for its snapshot and to send usage.",
    )
    gateway_token: SecretStr | None = Field(
        default=None,
        description="The token a gateway presents to the control plane. A gateway ships usage "
        "to the control plane only when it has one.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 bytes encrypting secrets at rest; unset means a key generated "
        "in $STOA_DATA_DIR/master.key on first use.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    auth: AuthSettings = AuthSettings()
    fetch: FetchSettings = FetchSettings()
    identity: IdentitySettings = IdentitySettings()
    gateway: GatewaySettings = GatewaySettings()
    usage: UsageRetentionSettings = UsageRetentionSettings()

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL to connect to."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'stoa.db').resolve()}"
        url = self.database_url
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @property
    def uses_embedded_database(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def allow_private_networks(self) -> bool:
        configured = self.fetch.allow_private_networks
        return self.uses_embedded_database if configured is None else configured

    @property
    def token_audience(self) -> str:
        return self.auth.audience or self.public_url

    @property
    def uses_embedded_identity(self) -> bool:
        """Whether the built-in authorization server issues the tokens (and is mounted).

        False when `STOA_OIDC_ISSUER` names an external provider: then only that issuer's
        tokens are trusted, and the embedded login, token and registration endpoints are off.
        """
        return self.oidc_issuer is None

    @property
    def issuer(self) -> str:
        """The issuer whose tokens the control plane trusts."""
        return self.oidc_issuer or self.public_url
