"""Wiring: the runtime (DB, outbox relay, consumers), the handlers, the scheduler and the HTTP app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from bss_contracts import topics
from bss_runtime.bulk import BulkEngine
from bss_runtime.clock import Clock, SystemClock
from bss_runtime.delivery import Mailer, SmtpMailer
from bss_runtime.service import ServiceRuntime
from dunning.adapters.sms import EventOnlySmsSender, SmsSender
from dunning.adapters.tables import bulk_tables, runtime_tables
from dunning.adapters.webhook import HttpWebhookSender, WebhookSender
from dunning.bulk import entrypoints as bulk_api
from dunning.bulk import service_layer as bulk_kinds
from dunning.config import Settings
from dunning.entrypoints import api, handlers
from dunning.entrypoints.workers import Scheduler
from dunning.service_layer.deps import Deps

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


@dataclass(frozen=True)
class Dunning:
    runtime: ServiceRuntime
    deps: Deps
    scheduler: Scheduler
    bulk: BulkEngine


def build_runtime(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    sms: SmsSender | None = None,
    webhooks: WebhookSender | None = None,
) -> Dunning:
    """The service's parts; tests pass a clock (and may pass other channels) to drive time themselves."""
    settings = settings or Settings()
    runtime = ServiceRuntime(
        settings,
        runtime_tables,
        produces=[topics.DUNNING, topics.NOTIFICATIONS, topics.SUBSCRIBER_COMMANDS, topics.DUNNING_BULK_OPERATIONS],
        migrations_dir=MIGRATIONS,
    )
    deps = Deps(
        database=runtime.database,
        events=runtime.events,
        clock=clock or SystemClock(),
        mailer=mailer or SmtpMailer(settings),
        sms=sms or EventOnlySmsSender(),
        webhooks=webhooks
        or HttpWebhookSender(
            timeout_seconds=settings.webhook_timeout_seconds,
            attempts=settings.webhook_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
        ),
        mail_from=settings.mail_from,
        message_id_domain=settings.message_id_domain,
        default_timezone=settings.default_timezone,
        intake_recheck=timedelta(hours=settings.intake_recheck_hours),
        action_lease=timedelta(seconds=settings.action_lease_seconds),
    )
    handlers.register(runtime.consumer, deps)
    scheduler = Scheduler(deps, poll_seconds=settings.worker_poll_seconds, concurrency=settings.worker_concurrency)
    if settings.worker_enabled:
        runtime.add_worker(scheduler.run)
    # The bulk engine always runs: its work is asked for over HTTP (worker_enabled is the schedule's switch).
    bulk = BulkEngine(
        runtime.database, runtime.events, bulk_tables, on_complete=bulk_kinds.announce,
        chunk_size=settings.bulk_chunk_size, rows_per_second=settings.bulk_rows_per_second,
        workers=settings.bulk_workers,
    )  # fmt: skip
    bulk_kinds.register(bulk, deps)
    runtime.add_worker(bulk.run)
    return Dunning(runtime, deps, scheduler, bulk)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    service = build_runtime(settings, clock=clock)
    app = service.runtime.http_app(api.router, bulk_api.router, title="Dunning")
    app.state.dunning = service.deps
    app.state.bulk = service.bulk
    app.state.service = service
    return app


def stream_app() -> FastStream:
    """The faststream application, for the AsyncAPI document."""
    return build_runtime(Settings()).runtime.stream_app()
