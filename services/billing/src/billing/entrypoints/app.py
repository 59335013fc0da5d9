"""Wiring: the runtime (DB, outbox relay, consumers), the handlers, the schedulers and the HTTP app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from billing.adapters.tables import bulk_tables, runtime_tables
from billing.bulk import entrypoints as bulk_api
from billing.bulk import service_layer as bulk_kinds
from billing.config import Settings
from billing.entrypoints import api, handlers
from billing.entrypoints.workers import Scheduler
from billing.service_layer.deps import Deps
from bss_contracts import topics
from bss_runtime.bulk import BulkEngine
from bss_runtime.clock import Clock, SystemClock
from bss_runtime.service import ServiceRuntime

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


@dataclass(frozen=True)
class Billing:
    runtime: ServiceRuntime
    deps: Deps
    scheduler: Scheduler
    bulk: BulkEngine


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None) -> Billing:
    """The service's parts; tests pass a clock to drive time themselves."""
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        runtime_tables,
        produces=[topics.INVOICES, topics.SLA, topics.USAGE, topics.SUBSCRIPTIONS, topics.BILLING_BULK_OPERATIONS],
        migrations_dir=MIGRATIONS,
    )
    deps = Deps(
        database=runtime.database,
        events=runtime.events,
        clock=clock or SystemClock(),
        default_timezone=settings.default_timezone,
        payment_terms_days=settings.payment_terms_days,
        batch_size=settings.worker_batch_size,
        bill_run_batch_size=settings.bill_run_batch_size,
        close_grace=timedelta(hours=settings.usage_close_grace_hours),
    )
    handlers.register(runtime.consumer, deps)
    scheduler = Scheduler(deps, poll_seconds=settings.worker_poll_seconds)
    if settings.workers_enabled:
        runtime.add_worker(scheduler.run)
    # The bulk engine always runs: its work is asked for over HTTP, not scheduled (workers_enabled is the
    # schedulers' switch).
    bulk = BulkEngine(
        runtime.database, runtime.events, bulk_tables, on_complete=bulk_kinds.announce,
        chunk_size=settings.bulk_chunk_size, rows_per_second=settings.bulk_rows_per_second,
        workers=settings.bulk_workers,
    )  # fmt: skip
    bulk_kinds.register(bulk, deps)
    runtime.add_worker(bulk.run)
    return Billing(runtime, deps, scheduler, bulk)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    service = build_runtime(settings, clock=clock)
    app = service.runtime.http_app(*api.routers, bulk_api.router, title="Billing")
    app.state.billing = service.deps
    app.state.bulk = service.bulk
    app.state.service = service
    return app


def stream_app() -> FastStream:
    """The faststream application, for the AsyncAPI document."""
    return build_runtime(Settings()).runtime.stream_app()
