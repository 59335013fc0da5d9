"""Wiring: the runtime (DB, consumers), the projections, partition upkeep and the HTTP app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from faststream import FastStream
from sqlalchemy import event

from bss_runtime.service import ServiceRuntime
from reporting.adapters.partitions import SessionPartitions
from reporting.adapters.tables import ReadModel, live
from reporting.config import Settings
from reporting.entrypoints import api, handlers
from reporting.entrypoints.workers import PartitionMaintenance

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Reporting:
    runtime: ServiceRuntime
    read_model: ReadModel
    partitions: SessionPartitions
    maintenance: PartitionMaintenance
    reports: api.Reports


def new_partitions(settings: Settings, schema: str) -> SessionPartitions:
    return SessionPartitions(
        schema, retention_months=settings.session_retention_months, ahead_months=settings.session_partitions_ahead
    )


def _session_defaults(dbapi_connection: Any, _: Any) -> None:
    """Every connection of this service: its queries are short and index-bound, so JIT would cost more than it
    saves; and planning the report queries anew for each request (over a dozen monthly session partitions)
    would cost more than running them. Generic plans are made once per pooled connection and partitions
    are pruned when they execute."""
    dbapi_connection.run_async(lambda conn: conn.execute("SET jit = off; SET plan_cache_mode = force_generic_plan"))


def build_runtime(settings: Settings | None = None, *, clock: Callable[[], datetime] = _utcnow) -> Reporting:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, live.runtime, produces=[], migrations_dir=MIGRATIONS)
    event.listen(runtime.database.engine.sync_engine, "connect", _session_defaults)
    partitions = new_partitions(settings, live.schema)
    handlers.register(runtime.consumer, live, partitions, clock)
    maintenance = PartitionMaintenance(
        runtime.database, partitions, interval_seconds=settings.maintenance_interval_seconds, clock=clock
    )
    runtime.add_worker(maintenance.run)
    reports = api.Reports(runtime.database, live.schema, settings, clock)
    return Reporting(runtime, live, partitions, maintenance, reports)


def create_app(settings: Settings | None = None) -> FastAPI:
    service = build_runtime(settings)
    app = service.runtime.http_app(api.router, title="Reporting")
    app.state.reports = service.reports
    app.state.service = service
    return app


def stream_app() -> FastStream:
    """The faststream application, for the AsyncAPI document."""
    return build_runtime(Settings()).runtime.stream_app()
