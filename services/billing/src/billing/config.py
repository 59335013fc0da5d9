"""The billing service's settings (plain environment names, like every service)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from bss_runtime.bulk import BulkSettings
from bss_runtime.settings import ServiceSettings


class Settings(ServiceSettings, BulkSettings):
    service_name: str = "billing"
    http_port: int = 8102

    default_timezone: str = Field(default="UTC", description="For customers whose time zone is not known")
    payment_terms_days: int = Field(default=14, ge=0, le=365, description="Due date = issue date + this")

    workers_enabled: bool = Field(default=True, description="Run the schedulers (overdue, period close, SLA)")
    worker_poll_seconds: float = Field(default=30.0, gt=0)
    worker_batch_size: int = Field(default=100, ge=1, description="Rows a scheduler claims per transaction")
    bill_run_batch_size: int = Field(
        default=500, ge=1, le=5000, description="Subscriptions the bill run closes per transaction"
    )
    usage_close_grace_hours: float = Field(
        default=6.0, ge=0, description="Wait this long after a billing period ends before closing it (late interims)"
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
