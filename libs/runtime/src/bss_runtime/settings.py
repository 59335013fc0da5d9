"""Service settings from the environment (same variable names in local mode, compose and production).

`ENVIRONMENT` says where a service runs: `production` (the default), or `local`, `dev` or `test`. A service
started as a process (`python -m <pkg>`) refuses to start in production with the published default
`JWT_SECRET`: anyone could sign tokens for it (unless HS256 is switched off, `JWT_HS256_ENABLED=false`, and
tokens come from an OpenID Connect provider, `JWT_JWKS_URL`, which must then be https). Local mode
(`deploy/local/env.sh`), compose and the tests say where they run, so they keep the default.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JWT_SECRET = "dev-only-secret-change-me-in-production"  # noqa: S105  (published; refused in production)
DEVELOPMENT_ENVIRONMENTS = frozenset({"local", "dev", "test"})


class ServiceSettings(BaseSettings):
    """Settings every service shares. A service subclasses it for its own (prefix-free env names)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = Field(default="service", description="Also the Kafka consumer group and event source")
    database_url: str = Field(
        default="postgresql+asyncpg://postgres:postgres@127.0.0.1:55432/postgres",
        description="SQLAlchemy async URL of the service's own database",
    )
    kafka_bootstrap_servers: str = "127.0.0.1:59092"
    kafka_topic_prefix: str = Field(default="", description="Prepended to every topic name (test isolation)")
    kafka_group_prefix: str | None = Field(
        default=None,
        description="Prepended to the consumer group (the service name): two deployments, benchmarks or test runs "
        "on one broker never share a group. Unset: the topic prefix (bssctl reads the same KAFKA_GROUP_PREFIX)",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    environment: str = Field(default="production", description="production, or local, dev or test")
    jwt_secret: str = Field(default=DEFAULT_JWT_SECRET, min_length=32)
    jwt_issuer: str = Field(default="ispbss", description="Required `iss` of every token (the OIDC issuer URL)")
    jwt_audience: str = Field(default="ispbss", description="Required in every token's `aud`")
    jwt_jwks_url: str | None = Field(
        default=None, description="OIDC provider's JWKS URL; when set, RS256/ES256 tokens are verified against it"
    )
    jwt_jwks_cache_seconds: float = Field(default=300.0, gt=0, description="Key set refetched once this old")
    jwt_jwks_min_refresh_seconds: float = Field(
        default=10.0, ge=0, description="At most one key set fetch per this many seconds (unknown kid, expiry)"
    )
    jwt_jwks_timeout_seconds: float = Field(default=3.0, gt=0, description="Timeout of one key set fetch")
    jwt_tenant_claim: str = Field(default="tenant_id", min_length=1, description="Dotted path of the tenant claim")
    jwt_roles_claim: str = Field(default="roles", min_length=1, description="Dotted path of the roles list")
    jwt_hs256_enabled: bool = Field(default=True, description="Accept HS256 tokens signed with JWT_SECRET")
    jwt_cache_size: int = Field(
        default=1024, ge=0, description="Verified tokens remembered per process (bss_runtime.auth); 0: verify each"
    )
    jwt_cache_seconds: float = Field(
        default=60.0, gt=0, description="A remembered token is verified again once this old (never used past exp)"
    )
    log_level: str = "INFO"
    consumer_max_attempts: int = Field(default=3, ge=1, description="Tries before a message is dead-lettered")
    consumer_batch_size: int = Field(default=2000, ge=1, description="Records applied per consumer transaction")
    consumer_apply_groups: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Concurrent transactions a poll is split into, by key, for handlers registered as concurrent",
    )
    outbox_poll_seconds: float = Field(default=0.05, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1)
    db_pool_size: int = Field(
        default=10, ge=1, description="Connections each process keeps open (size it for its concurrent requests)"
    )
    db_max_overflow: int = Field(
        default=10, ge=0, description="More connections opened above the pool when all are busy, closed on return"
    )
    db_pool_pre_ping: bool = Field(
        default=True, description="Test each connection with a round trip as it is taken from the pool"
    )
    http_workers: int = Field(
        default=1, ge=1, le=64, description="HTTP server processes on the one port (uvicorn workers)"
    )


def ensure_safe_to_serve(settings: ServiceSettings) -> None:
    """Exit (status 1, with the reason) if `settings` would serve production with the published JWT secret, or
    fetch the keys that vouch for every token over plain HTTP."""
    if not settings.jwt_hs256_enabled and not settings.jwt_jwks_url:
        raise SystemExit("refusing to start: JWT_HS256_ENABLED=false and no JWT_JWKS_URL: no token could pass.")
    if settings.environment in DEVELOPMENT_ENVIRONMENTS:
        return
    if settings.jwt_hs256_enabled and settings.jwt_secret == DEFAULT_JWT_SECRET:
        raise SystemExit(
            f"refusing to start: JWT_SECRET is the published default and ENVIRONMENT is {settings.environment!r}."
            " Set JWT_SECRET to a secret of at least 32 bytes (or JWT_HS256_ENABLED=false with JWT_JWKS_URL),"
            " or ENVIRONMENT=local for local development."
        )
    if settings.jwt_jwks_url and not settings.jwt_jwks_url.startswith("https://"):
        raise SystemExit(
            f"refusing to start: JWT_JWKS_URL {settings.jwt_jwks_url!r} is not https and ENVIRONMENT is"
            f" {settings.environment!r}: whoever sits on the path could hand out the signing keys."
        )
