"""The support service's settings (plain environment names, like every service)."""

from __future__ import annotations

from pydantic import Field

from bss_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "support"
    http_port: int = 8106

    # The SLA breach scheduler: every replica polls; SKIP LOCKED gives each due ticket to exactly one of them.
    worker_enabled: bool = Field(default=True, description="Run the SLA breach scheduler in this process")
    breach_poll_seconds: float = Field(default=30.0, gt=0)
    breach_batch_size: int = Field(default=200, ge=1, description="Tickets marked breached per transaction")
