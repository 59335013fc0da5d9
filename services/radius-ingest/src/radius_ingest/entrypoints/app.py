"""Wiring: the runtime (DB, outbox relay, consumers), the session tracker, the UDP workers and the HTTP app."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from faststream import FastStream

from bss_contracts import topics
from bss_runtime.service import ServiceRuntime
from radius_ingest.adapters.tables import runtime_tables
from radius_ingest.config import Settings
from radius_ingest.entrypoints import api, handlers
from radius_ingest.entrypoints.udp import UdpWorkers
from radius_ingest.entrypoints.workers import tracker_process
from radius_ingest.service_layer.nas_clients import bootstrap

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RadiusIngest:
    runtime: ServiceRuntime
    udp: UdpWorkers


def build_runtime(settings: Settings | None = None) -> RadiusIngest:
    settings = settings or Settings()
    # The hot path publishes session and NAS events straight to Kafka; the outbox carries only the Stops
    # synthesised for sessions a NAS reset closed.
    runtime = ServiceRuntime(
        settings, runtime_tables, produces=[topics.SESSIONS, topics.NAS], migrations_dir=MIGRATIONS
    )
    handlers.register(runtime.consumer, runtime.events)
    if settings.track_sessions:
        runtime.add_worker(tracker_process(settings).run)
    udp = UdpWorkers(settings)

    async def accounting(stop: asyncio.Event) -> None:
        if settings.nas_clients_file is not None:
            count = await bootstrap(runtime.database, settings.nas_clients_file)
            log.info("NAS clients applied from file", extra={"file": str(settings.nas_clients_file), "count": count})
        await udp.run(stop)

    runtime.add_worker(accounting)
    runtime.add_readiness_check("radius_udp", udp.metrics.ready)
    return RadiusIngest(runtime, udp)


def create_app(settings: Settings | None = None) -> FastAPI:
    service = build_runtime(settings)
    app = service.runtime.http_app(api.router, title="RADIUS accounting ingest")
    app.state.service = service
    return app


def stream_app() -> FastStream:
    return build_runtime().runtime.stream_app()
