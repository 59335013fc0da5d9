"""The dunning service's settings (plain environment names, like every service)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from bss_runtime.bulk import BulkSettings
from bss_runtime.delivery import SmtpSettings
from bss_runtime.settings import ServiceSettings


class Settings(ServiceSettings, SmtpSettings, BulkSettings):
    service_name: str = "dunning"
    http_port: int = 8103

    # Email notices go to a real SMTP server (SMTP_* settings from SmtpSettings).
    mail_from: str = "Billing <billing@isp.example>"
    message_id_domain: str = Field(default="dunning.ispbss.local", description="Right side of Message-IDs")

    # Webhook actions: a few quick tries within a step, then the campaign's retry policy.
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_attempts: int = Field(default=3, ge=1)
    webhook_backoff_seconds: float = Field(default=0.5, ge=0)

    # A step's external call (SMTP, webhook) runs with no row lock; meanwhile the execution is not due for this
    # long. Longer than the slowest call (webhook: attempts x timeout + backoff); after a crash, the call is made
    # again (same idempotency key) once the lease is over.
    action_lease_seconds: float = Field(default=300.0, gt=0)

    # The durable schedule.
    worker_enabled: bool = Field(default=True, description="Run the step and intake workers in this process")
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    worker_concurrency: int = Field(default=2, ge=1, description="Steps run at once by this process")
    intake_recheck_hours: int = Field(
        default=24, ge=1, description="How often an overdue invoice no campaign matched is looked at again"
    )
    default_timezone: str = Field(default="UTC", description="For customers whose time zone is not known")

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
