"""Wiring: the runtime (database, outbox relay, consumer), the request handlers and the HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from faststream import FastStream

from bss_contracts import topics
from bss_runtime.bulk import BulkEngine
from bss_runtime.service import ServiceRuntime
from customers.adapters.tables import bulk_tables, runtime_tables
from customers.bulk import entrypoints as bulk_api
from customers.bulk import service_layer as bulk_kinds
from customers.config import Settings
from customers.entrypoints import api, dev_auth, handlers

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def build_runtime(settings: Settings | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(
        settings or Settings(),
        runtime_tables,
        produces=[topics.CUSTOMERS, topics.PARTNERS, topics.SUBSCRIBERS, topics.CUSTOMER_BULK_OPERATIONS],
        migrations_dir=MIGRATIONS,
    )
    handlers.register(runtime.consumer, runtime.events)
    return runtime


def build_bulk_engine(runtime: ServiceRuntime, settings: Settings) -> BulkEngine:
    """The bulk-operation engine with this service's kinds, run as one of the runtime's workers."""
    engine = BulkEngine(
        runtime.database,
        runtime.events,
        bulk_tables,
        on_complete=bulk_kinds.announce,
        chunk_size=settings.bulk_chunk_size,
        rows_per_second=settings.bulk_rows_per_second,
        workers=settings.bulk_workers,
    )
    bulk_kinds.register(engine)
    runtime.add_worker(engine.run)
    return engine


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = build_runtime(settings)
    engine = build_bulk_engine(runtime, settings)
    routers: tuple[APIRouter, ...] = (*api.routers, bulk_api.router)
    if dev_auth.enabled(settings):
        routers = (*routers, dev_auth.router)
    app = runtime.http_app(*routers, title="Customers")
    app.state.bulk = engine
    return app


def stream_app() -> FastStream:
    """The faststream application, for the AsyncAPI document."""
    return build_runtime().stream_app()
