"""The reporting service's settings (plain environment names, like every service)."""

from __future__ import annotations

from pydantic import Field

from bss_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "reporting"
    http_port: int = 8104

    session_retention_months: int = Field(
        default=13, ge=1, description="Months of sessions kept (the current month plus this many before it)"
    )
    session_partitions_ahead: int = Field(default=3, ge=1, description="Monthly session partitions created ahead")
    maintenance_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often partitions are created ahead and old ones dropped"
    )
    export_chunk_rows: int = Field(default=5000, ge=100, description="Rows fetched per round trip when exporting")
    parquet_row_group_rows: int = Field(default=65_536, ge=100, description="Rows per Parquet row group")
