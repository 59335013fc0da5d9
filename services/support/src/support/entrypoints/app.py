"""Wiring: the runtime (DB, outbox relay, consumers), the handlers, the breach scheduler and the HTTP app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from bss_contracts import topics
from bss_runtime.clock import Clock, SystemClock
from bss_runtime.service import ServiceRuntime
from support.adapters.tables import runtime_tables
from support.config import Settings
from support.entrypoints import api, handlers
from support.entrypoints.workers import BreachScheduler
from support.service_layer.deps import SupportDeps

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


@dataclass(frozen=True)
class Support:
    runtime: ServiceRuntime
    deps: SupportDeps
    scheduler: BreachScheduler


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None) -> Support:
    """The service's parts; tests pass a clock to drive time themselves."""
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, runtime_tables, produces=[topics.TICKETS], migrations_dir=MIGRATIONS)
    deps = SupportDeps(database=runtime.database, events=runtime.events, clock=clock or SystemClock())
    handlers.register(runtime.consumer, deps)
    scheduler = BreachScheduler(deps, poll_seconds=settings.breach_poll_seconds, batch_size=settings.breach_batch_size)
    if settings.worker_enabled:
        runtime.add_worker(scheduler.run)
    return Support(runtime, deps, scheduler)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    service = build_runtime(settings, clock=clock)
    app = service.runtime.http_app(api.router, title="Support")
    app.state.support = service.deps
    app.state.service = service
    return app


def stream_app() -> FastStream:
    """The faststream application, for the AsyncAPI document."""
    return build_runtime(Settings()).runtime.stream_app()
