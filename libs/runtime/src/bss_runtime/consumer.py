"""Idempotent event consumption with dead letters, on faststream subscribers.

For every record:
1. Parse the envelope and the payload of its type. Invalid -> dead-letter topic at once (retrying cannot
   help). Types this service has no handler for are skipped.
2. In one database transaction: insert (consumer, event id) into `processed_events` and run the handler with
   the same session. A redelivered event finds its row and has no second effect. Events the handler writes
   to the outbox commit with it.
3. A handler that raises is retried (`max_attempts`), then the record goes to `<topic>.dlq` with headers that
   say why and where it came from, and the consumer moves on.
4. Only then is the offset committed (AckPolicy.NACK_ON_ERROR + our own error handling). If the database is
   unreachable the record is not dead-lettered: it is redelivered until the database is back.

Records arrive in batches (up to `batch_size`, in partition order). A batch is first tried in ONE transaction
(one processed-events insert for all, the handlers in order); only if that fails is it replayed one record
at a time with the retry and dead-letter rules above. Same effects, a fraction of the round trips.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import DomainEvent, Envelope, RawEnvelope
from bss_contracts.topics import Topic, dead_letter_name
from bss_runtime import context
from bss_runtime.db import Database
from bss_runtime.kafka import full_name
from bss_runtime.tables import RuntimeTables
from bss_runtime.telemetry import DEAD_LETTERS, EVENTS_CONSUMED

log = logging.getLogger(__name__)

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Envelope[Any], AsyncSession], Awaitable[None]]


class InfrastructureUnavailable(Exception):
    """The database (or another dependency) is down: redeliver later, do not dead-letter."""


def _is_infrastructure(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | OSError | InfrastructureUnavailable):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@dataclass(frozen=True)
class _Route(Generic[E]):
    model: type[E]
    handler: Handler


class EventConsumer:
    """The handlers of one service, by event type, subscribed as one consumer group."""

    def __init__(
        self,
        database: Database,
        tables: RuntimeTables,
        *,
        group: str,
        topic_prefix: str = "",
        max_attempts: int = 3,
        retry_backoff_seconds: float = 0.2,
        batch_size: int = 500,
    ) -> None:
        self._db = database
        self._processed = tables.processed_events
        self.group = group
        self._prefix = topic_prefix
        self._max_attempts = max_attempts
        self._backoff = retry_backoff_seconds
        self._batch_size = batch_size
        self._routes: dict[str, _Route[Any]] = {}
        self._topics: dict[str, Topic] = {}
        self._broker: KafkaBroker | None = None

    def on(self, model: type[E]) -> Callable[[Handler], Handler]:
        """Register `handler(envelope, session)` for events of `model`'s type."""

        def register(handler: Handler) -> Handler:
            if model.event_type in self._routes:
                raise ValueError(f"{model.event_type} already has a handler in {self.group}")
            self._routes[model.event_type] = _Route(model, handler)
            self._topics[model.topic.name] = model.topic
            return handler

        return register

    @property
    def topics(self) -> list[Topic]:
        return list(self._topics.values())

    def attach(self, broker: KafkaBroker) -> None:
        """Subscribe to every topic that has handlers, as ONE faststream subscriber: one consumer in the group,
        so a service joins its group once instead of rebalancing once per topic."""
        self._broker = broker
        if not self._topics:
            return
        names = [full_name(t.name, self._prefix) for t in self._topics.values()]
        broker.subscriber(
            *names,
            group_id=self.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            batch=True,
            max_records=self._batch_size,
            batch_timeout_ms=50,
            title=f"{self.group}:consumer",
            description="Consumes: " + "; ".join(f"{t.name} ({t.description})" for t in self._topics.values()),
        )(self._consume)

    async def _consume(self, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        await self.process_batch(records)

    async def process_batch(self, records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        """Handle records in order: all in one transaction if possible, else one by one."""
        parsed: list[tuple[ConsumerRecord[Any, Any], Envelope[Any], _Route[Any]]] = []
        for record in records:
            base_topic = record.topic.removeprefix(self._prefix)
            try:
                raw = RawEnvelope.model_validate_json(record.value)
                route = self._routes.get(raw.type)
                if route is None:
                    self._count(base_topic, "skipped")
                    continue
                parsed.append((record, raw.parse_data(route.model), route))
            except ValidationError:
                break  # the slow path dead-letters it, in its place in the order
        else:
            try:
                await self._apply_all(parsed)
                return
            except Exception as exc:
                if _is_infrastructure(exc):
                    await asyncio.sleep(1.0)
                    raise
                log.info("batch failed; replaying it record by record", extra={"error": str(exc)})
        for record in records:
            headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
            await self.process(record.topic, record.partition, record.offset, record.value, headers)

    async def _apply_all(self, batch: list[tuple[ConsumerRecord[Any, Any], Envelope[Any], _Route[Any]]]) -> None:
        if not batch:
            return
        p = self._processed
        async with self._db.transaction() as session:
            fresh = set(
                (
                    await session.scalars(
                        pg_insert(p)
                        .values([{"consumer": self.group, "event_id": e.id, "event_type": e.type} for _, e, _ in batch])
                        .on_conflict_do_nothing()
                        .returning(p.c.event_id)
                    )
                ).all()
            )
            outcomes = []
            for record, envelope, route in batch:
                if envelope.id not in fresh:
                    outcomes.append((record.topic, "duplicate"))
                    continue
                fresh.discard(envelope.id)  # the same event twice in one batch: apply it once
                with context.caused_by(
                    correlation=envelope.correlation_id, causation=envelope.id, tenant=envelope.tenant_id
                ):
                    await route.handler(envelope, session)
                outcomes.append((record.topic, "processed"))
        for topic, outcome in outcomes:
            self._count(topic.removeprefix(self._prefix), outcome)

    async def process(self, topic: str, partition: int, offset: int, body: bytes, headers: dict[str, Any]) -> str:
        """Handle one record; returns the outcome (processed, duplicate, skipped, dead-lettered)."""
        base_topic = topic.removeprefix(self._prefix)
        try:
            raw = RawEnvelope.model_validate_json(body)
        except ValidationError as exc:
            await self._dead_letter(topic, partition, offset, body, headers, "invalid-envelope", exc)
            return self._count(base_topic, "dead-lettered")
        route = self._routes.get(raw.type)
        if route is None:
            return self._count(base_topic, "skipped")
        try:
            envelope: Envelope[Any] = raw.parse_data(route.model)
        except ValidationError as exc:
            await self._dead_letter(topic, partition, offset, body, headers, "invalid-payload", exc)
            return self._count(base_topic, "dead-lettered")

        with context.caused_by(correlation=raw.correlation_id, causation=raw.id, tenant=raw.tenant_id):
            for attempt in range(1, self._max_attempts + 1):
                try:
                    outcome = await self._apply(envelope, route.handler)
                    return self._count(base_topic, outcome)
                except Exception as exc:
                    if _is_infrastructure(exc):
                        log.warning("infrastructure unavailable; will be redelivered", exc_info=True)
                        await asyncio.sleep(1.0)
                        raise
                    log.warning(
                        "handler failed",
                        exc_info=True,
                        extra={"event_type": raw.type, "event_id": str(raw.id), "attempt": attempt},
                    )
                    if attempt == self._max_attempts:
                        await self._dead_letter(topic, partition, offset, body, headers, "handler-failed", exc)
                        return self._count(base_topic, "dead-lettered")
                    await asyncio.sleep(self._backoff * attempt)
        raise AssertionError("unreachable")

    async def _apply(self, envelope: Envelope[Any], handler: Handler) -> str:
        p = self._processed
        async with self._db.transaction() as session:
            seen = await session.scalar(
                select(p.c.event_id).where(p.c.consumer == self.group, p.c.event_id == envelope.id)
            )
            if seen is not None:
                return "duplicate"
            # The insert conflicts if a concurrent delivery of the same event got here first; the
            # transaction then fails and the retry sees the row and reports a duplicate.
            await session.execute(insert(p).values(consumer=self.group, event_id=envelope.id, event_type=envelope.type))
            await handler(envelope, session)
        return "processed"

    async def _dead_letter(
        self,
        topic: str,
        partition: int,
        offset: int,
        body: bytes,
        headers: dict[str, Any],
        reason: str,
        exc: BaseException,
    ) -> None:
        if self._broker is None:
            raise RuntimeError("EventConsumer.attach(broker) was not called")
        dlq_headers = {k: str(v) for k, v in headers.items()} | {
            "dlq.reason": reason,
            "dlq.error": f"{type(exc).__name__}: {exc}"[:2000],
            "dlq.original.topic": topic,
            "dlq.original.partition": str(partition),
            "dlq.original.offset": str(offset),
            "dlq.consumer.group": self.group,
        }
        await self._broker.publish(body, topic=dead_letter_name(topic), headers=dlq_headers)
        DEAD_LETTERS.labels(service=self.group, topic=topic.removeprefix(self._prefix), reason=reason).inc()
        log.error("message dead-lettered", extra={"topic": topic, "offset": offset, "reason": reason})

    def _count(self, topic: str, outcome: str) -> str:
        EVENTS_CONSUMED.labels(service=self.group, topic=topic, outcome=outcome).inc()
        return outcome
