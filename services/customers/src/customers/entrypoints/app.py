"""Wiring: the runtime (database, outbox relay, consumer), the request handlers and the HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from bss_contracts import topics
from bss_runtime.service import ServiceRuntime
from customers.adapters.tables import runtime_tables
from customers.config import Settings
from customers.entrypoints import api, dev_auth, handlers

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def build_runtime(settings: Settings | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(
        settings or Settings(),
        runtime_tables,
        produces=[topics.CUSTOMERS, topics.PARTNERS, topics.SUBSCRIBERS],
        migrations_dir=MIGRATIONS,
    )
    handlers.register(runtime.consumer, runtime.events)
    return runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    routers = (*api.routers, dev_auth.router) if dev_auth.enabled(settings) else api.routers
    return build_runtime(settings).http_app(*routers, title="Customers")


def stream_app() -> FastStream:
    """The faststream application, for the AsyncAPI document."""
    return build_runtime().stream_app()
