"""Service settings from the environment (same variable names in local mode, compose and production).

`ENVIRONMENT` says where a service runs: `production` (the default), or `local`, `dev` or `test`. A service
started as a process (`python -m <pkg>`) refuses to start in production with the published default
`JWT_SECRET`: anyone could sign tokens for it. Local mode (`deploy/local/env.sh`), compose and the tests say
where they run, so they keep the default.
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
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    environment: str = Field(default="production", description="production, or local, dev or test")
    jwt_secret: str = Field(default=DEFAULT_JWT_SECRET, min_length=32)
    jwt_issuer: str = "ispbss"
    jwt_audience: str = "ispbss"
    log_level: str = "INFO"
    consumer_max_attempts: int = Field(default=3, ge=1, description="Tries before a message is dead-lettered")
    consumer_batch_size: int = Field(default=2000, ge=1, description="Records applied per consumer transaction")
    outbox_poll_seconds: float = Field(default=0.05, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1)
    db_pool_size: int = 10


def ensure_safe_to_serve(settings: ServiceSettings) -> None:
    """Exit (status 1, with the reason) if `settings` would serve production with the published JWT secret."""
    if settings.jwt_secret == DEFAULT_JWT_SECRET and settings.environment not in DEVELOPMENT_ENVIRONMENTS:
        raise SystemExit(
            f"refusing to start: JWT_SECRET is the published default and ENVIRONMENT is {settings.environment!r}."
            " Set JWT_SECRET to a secret of at least 32 bytes, or ENVIRONMENT=local for local development."
        )
