"""radius-ingest's session tracker alone (no UDP workers), on the database and topics of the environment:
the benchmark's third consumer. Migrates the database first, as the service does at start."""

from __future__ import annotations

from pathlib import Path

from bss_runtime.migrations import upgrade
from radius_ingest.config import Settings
from radius_ingest.entrypoints.workers import tracker_main

if __name__ == "__main__":
    settings = Settings()
    upgrade(settings.database_url, Path(__file__).resolve().parents[2] / "services" / "radius-ingest" / "migrations")
    tracker_main(settings)
