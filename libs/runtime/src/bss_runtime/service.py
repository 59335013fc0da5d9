"""One service process: HTTP API, Kafka consumers, outbox relay and background workers, started together.

A service builds a `ServiceRuntime`, registers handlers on `runtime.consumer` and workers with
`runtime.add_worker`, and serves `runtime.http_app(...)` with uvicorn. `runtime.stream_app()` is the
faststream application the AsyncAPI document is generated from.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, Union

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from bss_contracts import Envelope
from bss_contracts.registry import EVENT_MODELS
from bss_contracts.topics import Topic
from bss_runtime.auth import JwtConfig
from bss_runtime.consumer import EventConsumer
from bss_runtime.db import Database
from bss_runtime.http import ReadinessCheck, install_common_routes
from bss_runtime.kafka import consumer_group, ensure_topics, full_name, new_producer
from bss_runtime.migrations import upgrade
from bss_runtime.outbox import EventWriter
from bss_runtime.relay import OutboxRelay
from bss_runtime.settings import ServiceSettings
from bss_runtime.tables import RuntimeTables

log = logging.getLogger(__name__)

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def tune_garbage_collector() -> None:
    """Consumers allocate thousands of short-lived objects per batch (envelopes, rows, datetimes). With the
    default thresholds, the cyclic collector runs every 700 allocations and now and then walks every object
    the process holds (its modules, SQLAlchemy's and pydantic's schemas): a third of a consumer's CPU went
    there. The objects made at start-up are frozen out of collection, and collections are rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        tables: RuntimeTables,
        *,
        produces: Iterable[Topic] = (),
        migrations_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.produces = tuple(produces)
        self.migrations_dir = migrations_dir
        self.database = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pre_ping=settings.db_pool_pre_ping,
        )
        self.events = EventWriter(tables, source=f"/services/{settings.service_name}")
        self.jwt = JwtConfig.from_settings(settings)
        self.broker = KafkaBroker(
            [server.strip() for server in settings.kafka_bootstrap_servers.split(",")],  # a cluster: several
            acks="all",
            enable_idempotence=True,
            client_id=f"{settings.service_name}-consumer",
        )
        self.consumer = EventConsumer(
            self.database,
            tables,
            group=consumer_group(settings.kafka_group_prefix, settings.kafka_topic_prefix, settings.service_name),
            topic_prefix=settings.kafka_topic_prefix,
            max_attempts=settings.consumer_max_attempts,
            batch_size=settings.consumer_batch_size,
            apply_groups=settings.consumer_apply_groups,
        )
        # The relay's producer is made in start(): aiokafka objects need a running event loop, and building
        # the app (uvicorn.run(create_app()), `faststream docs gen`) happens before there is one.
        self._producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self._workers: list[Worker] = [self._run_relay]
        self._readiness: dict[str, ReadinessCheck] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._attached = False

    async def _run_relay(self, stop: asyncio.Event) -> None:
        assert self.relay is not None, "started by start()"
        await self.relay.run(stop)

    def add_worker(self, worker: Worker) -> None:
        """A long-running coroutine `worker(stop)` that returns when `stop` is set."""
        self._workers.append(worker)

    def add_readiness_check(self, name: str, check: ReadinessCheck) -> None:
        """/readyz answers 503 while `check()` raises (beside the database and Kafka checks)."""
        self._readiness[name] = check

    async def migrate(self) -> None:
        if self.migrations_dir is not None:
            await asyncio.to_thread(upgrade, self.settings.database_url, self.migrations_dir)

    def _attach(self) -> None:
        if not self._attached:
            self.consumer.attach(self.broker)
            self._document_publishers()
            self._attached = True

    def _document_publishers(self) -> None:
        """Declare what this service publishes (through the outbox) so AsyncAPI shows it with its schemas."""
        for topic in self.produces:
            models = [m for m in EVENT_MODELS if m.topic is topic]
            envelopes = tuple(Envelope[m] for m in models)  # type: ignore[valid-type]
            schema: Any = envelopes[0] if len(envelopes) == 1 else Union[envelopes]  # noqa: UP007
            self.broker.publisher(
                full_name(topic.name, self.settings.kafka_topic_prefix),
                title=f"{self.settings.service_name}:{topic.name}",
                description=f"{topic.description} Event types: {', '.join(m.event_type for m in models)}. "
                f"Key: {topic.key}.",
                schema=schema,
            )

    async def start(self) -> None:
        await ensure_topics(self.settings.kafka_bootstrap_servers, self.settings.kafka_topic_prefix)
        await self.migrate()
        self._attach()
        settings = self.settings
        self._producer = new_producer(settings.kafka_bootstrap_servers, client_id=f"{settings.service_name}-relay")
        self.relay = OutboxRelay(
            self.database,
            self.tables,
            self._producer,
            service=settings.service_name,
            topic_prefix=settings.kafka_topic_prefix,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )
        await self._producer.start()
        await self.broker.start()
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(w(self._stop), name=getattr(w, "__qualname__", "worker")) for w in self._workers
        ]
        tune_garbage_collector()
        log.info("service started", extra={"service": self.settings.service_name})

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=10)
        await self.broker.stop()
        if self._producer is not None:
            await self._producer.stop()
        await self.database.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def _kafka_ready(self) -> None:
        if not await self.broker.ping(timeout=2.0):
            raise ConnectionError("Kafka did not answer")

    def http_app(self, *routers: APIRouter, title: str, version: str = "0.1.0") -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            async with self.running():
                yield

        app = FastAPI(title=title, version=version, lifespan=lifespan)
        app.state.runtime = self
        app.state.jwt = self.jwt
        install_common_routes(
            app,
            service=self.settings.service_name,
            checks={"database": self.database.ping, "kafka": self._kafka_ready, **self._readiness},
        )
        for router in routers:
            app.include_router(router)
        return app

    def stream_app(self) -> FastStream:
        """The faststream application (for `faststream docs gen`)."""
        self._attach()
        name = self.settings.service_name
        spec = AsyncAPI(
            self.broker,
            title=f"ISP BSS {name}",
            description=f"Events the {name} service consumes "
            "and publishes (published through its transactional outbox).",
        )
        return FastStream(self.broker, specification=spec)
