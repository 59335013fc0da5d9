"""The radius-ingest service's settings (plain environment names, like every service)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from bss_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "radius-ingest"
    http_port: int = 8105

    outbox_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Only the Stops the tracker synthesises go through the outbox: polling it 20 times a second "
        "cost more CPU than the rare events it finds",
    )
    radius_host: str = Field(default="0.0.0.0", description="Address the UDP accounting socket binds")
    radius_port: int = Field(default=1813, ge=0, le=65535, description="UDP accounting port (RFC 2866: 1813)")
    radius_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="Worker processes sharing the port"
    )
    radius_dictionary_dir: Path = Field(
        default=Path("/usr/share/freeradius"), description="FreeRADIUS dictionaries (Debian: freeradius-common)"
    )
    radius_native: bool = Field(
        default=True,
        description="Serve ordinary accounting with the native (Rust) hot path; false: the Python reference path",
    )
    nas_clients_file: Path | None = Field(
        default=None, description="TOML file of NAS clients applied (upserted) at start-up"
    )
    nas_refresh_seconds: float = Field(default=1.0, gt=0, description="How often workers reload NAS clients")
    reply_cache_seconds: float = Field(default=30.0, gt=0, description="How long replies answer retransmissions")
    kafka_linger_ms: float = Field(
        default=20.0,
        ge=0,
        description="Producer batching delay: bigger batches cost the broker and the producer far less CPU per "
        "record (measured: 2 ms -> 25 ms halved the broker's CPU per request); NAS wait seconds, not milliseconds",
    )
    kafka_compression: str = Field(default="none", pattern="^(none|gzip|snappy|lz4|zstd)$")
    kafka_delivery_timeout_ms: int = Field(
        default=60_000, ge=1000, description="A record unacknowledged this long fails; the NAS retransmits"
    )
    unhealthy_after_seconds: float = Field(
        default=10.0, gt=0, description="Status-Server goes unanswered while a record waits longer than this"
    )
    track_sessions: bool = Field(
        default=True, description="Run the open-session tracker (closes sessions on Accounting-On/Off)"
    )
    tracker_nice: int = Field(
        default=10, ge=0, le=19, description="CPU niceness of the tracker process (below the UDP workers)"
    )
    closed_session_retention_days: int = Field(default=7, ge=1)
