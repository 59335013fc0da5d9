"""The customers service's settings (plain environment names, like every service)."""

from __future__ import annotations

from bss_runtime.bulk import BulkSettings
from bss_runtime.settings import ServiceSettings


class Settings(ServiceSettings, BulkSettings):
    service_name: str = "customers"
    http_port: int = 8101
    # No round-trip ping per checkout (three round trips with asyncpg): a connection the server closed is still
    # replaced before use (bss_runtime.db checks it locally), bench/http.
    db_pool_pre_ping: bool = False
