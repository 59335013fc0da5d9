"""The customers service's settings (plain environment names, like every service)."""

from __future__ import annotations

from bss_runtime.bulk import BulkSettings
from bss_runtime.settings import ServiceSettings


class Settings(ServiceSettings, BulkSettings):
    service_name: str = "customers"
    http_port: int = 8101
