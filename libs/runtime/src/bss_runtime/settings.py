"""Service settings from the environment (same variable names in local mode, compose and production)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    jwt_secret: str = Field(default="dev-only-secret-change-me-in-production", min_length=32)
    jwt_issuer: str = "ispbss"
    jwt_audience: str = "ispbss"
    log_level: str = "INFO"
    consumer_max_attempts: int = Field(default=3, ge=1, description="Tries before a message is dead-lettered")
    consumer_batch_size: int = Field(default=2000, ge=1, description="Records applied per consumer transaction")
    outbox_poll_seconds: float = Field(default=0.05, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1)
    db_pool_size: int = 10
