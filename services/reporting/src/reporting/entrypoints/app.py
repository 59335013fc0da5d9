"""Wiring: the runtime (DB, consumers), the projections, partition upkeep, the BI module and the HTTP app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from faststream import FastStream
from sqlalchemy import event

from bss_contracts import topics
from bss_runtime.clock import Clock, SystemClock
from bss_runtime.db import Database
from bss_runtime.errors import install_error_handlers
from bss_runtime.service import ServiceRuntime
from reporting.adapters.partitions import SessionPartitions
from reporting.adapters.tables import ReadModel, live
from reporting.alerts.adapters.measures import KafkaProbe
from reporting.alerts.adapters.notify import WebhookPoster
from reporting.alerts.entrypoints import api as alerts_api
from reporting.alerts.entrypoints.worker import AlertsWorker
from reporting.alerts.service_layer.deps import AlertsDeps
from reporting.analytics.entrypoints import api as analytics_api
from reporting.analytics.entrypoints import network as network_api
from reporting.analytics.entrypoints import usage as usage_api
from reporting.analytics.entrypoints.worker import OnlineLevelsWorker
from reporting.bi.adapters.delivery import SmtpMailer, WebhookSender
from reporting.bi.adapters.files import DirectoryWriter, SftpUploader
from reporting.bi.entrypoints import api as bi_api
from reporting.bi.entrypoints.worker import BiWorker
from reporting.bi.service_layer.deps import BiDeps
from reporting.config import Settings
from reporting.entrypoints import api, billing_summary, handlers
from reporting.entrypoints import settings as settings_api
from reporting.entrypoints.workers import PartitionMaintenance
from reporting.tickets.entrypoints import api as support_api

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
    bi: BiDeps
    bi_worker: BiWorker
    alerts: AlertsDeps
    alerts_worker: AlertsWorker
    online: OnlineLevelsWorker


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


def _closed_on_stop(database: Database) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    async def close(stop: asyncio.Event) -> None:
        await stop.wait()
        await database.close()

    return close


def build_runtime(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = _utcnow, bi_clock: Clock | None = None
) -> Reporting:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, live.runtime, produces=[topics.ALERTS], migrations_dir=MIGRATIONS)
    event.listen(runtime.database.engine.sync_engine, "connect", _session_defaults)
    partitions = new_partitions(settings, live.schema)
    handlers.register(runtime.consumer, live, partitions, clock, alert_triggers=True)
    maintenance = PartitionMaintenance(
        runtime.database, partitions, interval_seconds=settings.maintenance_interval_seconds, clock=clock
    )
    runtime.add_worker(maintenance.run)
    online = OnlineLevelsWorker(
        runtime.database, live.schema, interval_seconds=settings.online_move_on_seconds, clock=clock
    )
    runtime.add_worker(online.run)
    # One-statement reports read on connections of their own, taken from the pool without pre-ping's round trips
    # (api.on_driver retries a statement once on a connection the server dropped instead).
    reads = Database(
        settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow, pre_ping=False
    )
    event.listen(reads.engine.sync_engine, "connect", _session_defaults)
    runtime.add_worker(_closed_on_stop(reads))
    reports = api.Reports(runtime.database, live.schema, settings, clock, reads=reads.engine)
    bi = BiDeps(
        runtime.database, settings, bi_clock or SystemClock(), _reports_app(reports, runtime), runtime.jwt,
        mailer=SmtpMailer(settings), webhooks=WebhookSender(settings.webhook_timeout_seconds),
        directories=DirectoryWriter(settings.bi_delivery_directory_root),
        sftp=SftpUploader(settings.bi_sftp_timeout_seconds),
    )  # fmt: skip
    bi_worker = BiWorker(bi)
    if settings.bi_worker_enabled:
        runtime.add_worker(bi_worker.run)
    alerts = AlertsDeps(
        runtime.database, live.schema, settings, bi_clock or SystemClock(), runtime.events,
        KafkaProbe(settings.kafka_bootstrap_servers, settings.kafka_topic_prefix), SmtpMailer(settings),
        WebhookPoster(settings.webhook_timeout_seconds),
    )  # fmt: skip
    alerts_worker = AlertsWorker(alerts)
    if settings.alert_worker_enabled:
        runtime.add_worker(alerts_worker.run)
    return Reporting(runtime, live, partitions, maintenance, reports, bi, bi_worker, alerts, alerts_worker, online)


def _reports_app(reports: api.Reports, runtime: ServiceRuntime) -> FastAPI:
    """The report endpoints alone (the very router the service serves), for BI executions to call in-process."""
    app = FastAPI(title="Reporting (reports, for BI)")
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(billing_summary.router)
    app.include_router(analytics_api.router)
    app.include_router(network_api.router)
    app.include_router(usage_api.router)
    app.include_router(support_api.router)
    app.state.reports = reports
    app.state.jwt = runtime.jwt
    return app


def create_app(settings: Settings | None = None, *, bi_clock: Clock | None = None) -> FastAPI:
    service = build_runtime(settings, bi_clock=bi_clock)
    app = service.runtime.http_app(
        api.router,
        billing_summary.router,
        bi_api.router,
        analytics_api.router,
        network_api.router,
        usage_api.router,
        support_api.router,
        alerts_api.router,
        settings_api.router,
        title="Reporting",
    )
    bi_api.install(app)
    alerts_api.install(app, service.alerts)
    app.state.reports = service.reports
    app.state.bi = service.bi
    app.state.service = service
    return app


def stream_app() -> FastStream:
    """The faststream application, for the AsyncAPI document."""
    return build_runtime(Settings()).runtime.stream_app()
