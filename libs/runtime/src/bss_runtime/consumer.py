"""Idempotent event consumption with dead letters, a batch of records per transaction.

For every poll (up to `batch_size` records, in partition order):
1. Decode each record. Its type comes from the `ce_type` header (the envelope's own `type` is checked against
   it); the envelope and its payload are validated in one pass (`Envelope[Model]`, unknown payload fields
   ignored). Types this service has no handler for are skipped without parsing.
2. In ONE database transaction: one statement inserts (consumer, event id) for the whole batch into
   `processed_events` and returns the ids that were new; events already there (redelivered) have no second
   effect. Then the handlers run in record order with the same session:
   - a per-event handler `on(Model)` gets each event;
   - a batch handler `on_batch(Model, ...)` gets each run of consecutive events of its types at once, and
     applies their net effect with a few set-based statements. It must give the same result as applying the
     events one by one (each service proves that for its batch handlers).
   Events the handlers write to the outbox commit with them.
3. If that transaction fails, the batch is replayed one record at a time, each in its own transaction: an
   invalid envelope or payload goes to `<topic>.dlq` at once (retrying cannot help); a handler that raises is
   retried (`max_attempts`), then dead-lettered with headers that say why and where it came from.
   Concurrent groups (`apply_groups` > 1): when every record of the poll belongs to a batch handler registered
   with `concurrent=...` and that predicate holds for each event, the poll is split by Kafka key (the record's
   key, else its partition) into `apply_groups` groups, each keeping its events in record order (so the events
   of one key stay in order; a poll usually holds one partition, as the fetcher drains a partition's fetch
   first), and each group is applied in its own transaction, on its own connection, at the same time: while
   PostgreSQL works on one group's statements the consumer folds the other's. Such a handler must need order
   only per key and give the same result whatever the interleaving of two transactions on disjoint keys
   (additive rollups, rows of one key): what two replicas of the service in one consumer group already
   require. If a group fails, the whole poll is applied again in one transaction (groups that committed are
   duplicates there), then step 3. The offsets are committed only once every group has committed.
4. Only then is the offset committed (AckPolicy.NACK_ON_ERROR + our own error handling). An unavailable
   database or broker (connection refused or lost, "the database system is starting up", admin shutdown, ...)
   is never a reason to dead-letter: the batch is redelivered until it is back.

`EventRoutes` is the routing table and the apply step on their own: the reporting rebuild replays topics
through the very same code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from sqlalchemy import Table, text
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
BatchHandler = Callable[[Sequence[Envelope[Any]], AsyncSession], Awaitable[None]]
ConcurrentWhen = Callable[[Envelope[Any]], bool]

# SQLSTATEs that mean "the database is not there right now", not "this message is bad": connection
# exceptions (class 08), operator intervention (admin/crash shutdown, cannot connect now: 57P01-57P03),
# insufficient resources (class 53, e.g. too many connections).
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03"}


class InfrastructureUnavailable(Exception):
    """The database (or another dependency) is down: redeliver later, do not dead-letter."""


def _sqlstate(exc: BaseException) -> str | None:
    for attr in ("sqlstate", "pgcode"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def is_infrastructure(exc: BaseException) -> bool:
    """True when `exc` (or anything it wraps) says a dependency is unavailable rather than the work is bad."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | OSError | InfrastructureUnavailable):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        state = _sqlstate(current)
        if state is not None and (state in _UNAVAILABLE_STATES or state[:2] in _UNAVAILABLE_CLASSES):
            return True
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ in {
            "ConnectionDoesNotExistError",
            "ConnectionFailureError",
            "InterfaceError",
        }:
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


class NotForThisService(Exception):
    """A record whose type no handler is registered for: skipped."""


@dataclass(frozen=True)
class _Route(Generic[E]):
    model: type[E]
    envelope: type[Envelope[Any]]  # Envelope[model]: the whole record validated in one pass
    handler: Handler | None = None
    batch_handler: BatchHandler | None = None
    concurrent: ConcurrentWhen | None = None  # events it holds for may be applied in concurrent transactions


class EventRoutes:
    """The handlers of one consumer by event type, and the transaction step that applies a batch."""

    def __init__(self, processed_events: Table, *, consumer: str) -> None:
        self.consumer = consumer
        self._processed = processed_events
        self._routes: dict[str, _Route[Any]] = {}
        self._topics: dict[str, Topic] = {}
        name = f'"{processed_events.schema}".{processed_events.name}' if processed_events.schema else "processed_events"
        # One round trip for the whole batch; returns the ids seen for the first time.
        self._record_sql = text(
            f"INSERT INTO {name} (consumer, event_id, event_type) "  # noqa: S608 - our own table name
            "SELECT :consumer, i, t FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[])) AS u(i, t) "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        )

    def on(self, model: type[E]) -> Callable[[Handler], Handler]:
        """Register `handler(envelope, session)` for events of `model`'s type."""

        def register(handler: Handler) -> Handler:
            self._add(_Route(model, Envelope[model], handler=handler))  # type: ignore[valid-type]
            return handler

        return register

    def on_batch(
        self, *models: type[DomainEvent], concurrent: ConcurrentWhen | None = None
    ) -> Callable[[BatchHandler], BatchHandler]:
        """Register `handler(envelopes, session)` for runs of consecutive events of these types. `concurrent`:
        the events it holds for may be applied by transactions running at the same time, each holding whole
        Kafka partitions (see the module's docstring for what the handler must then guarantee)."""

        def register(handler: BatchHandler) -> BatchHandler:
            for model in models:
                route = _Route(model, Envelope[model], batch_handler=handler, concurrent=concurrent)  # type: ignore[valid-type]
                self._add(route)
            return handler

        return register

    def _add(self, route: _Route[Any]) -> None:
        if route.model.event_type in self._routes:
            raise ValueError(f"{route.model.event_type} already has a handler in {self.consumer}")
        self._routes[route.model.event_type] = route
        self._topics[route.model.topic.name] = route.model.topic

    @property
    def topics(self) -> list[Topic]:
        return list(self._topics.values())

    def handles(self, event_type: str) -> bool:
        return event_type in self._routes

    def concurrent(self, envelope: Envelope[Any]) -> bool:
        """True when `envelope` may be applied in a transaction running beside another group's."""
        when = self._routes[envelope.type].concurrent
        return when is not None and when(envelope)

    def decode(self, value: bytes, headers: Sequence[tuple[str, bytes]] | None) -> Envelope[Any]:
        """The record as a typed envelope. Raises NotForThisService for types without a handler and
        ValidationError for an invalid envelope or payload."""
        event_type = None
        for name, header in headers or ():
            if name == "ce_type":
                event_type = header.decode(errors="replace")
                break
        if event_type is None:  # a producer without CloudEvents headers: read the type from the body
            event_type = RawEnvelope.model_validate_json(value).type
        route = self._routes.get(event_type)
        if route is None:
            raise NotForThisService(event_type)
        envelope = route.envelope.model_validate_json(value)
        if envelope.type != event_type:
            raise ValueError(f"the ce_type header says {event_type}, the envelope {envelope.type}")
        return envelope

    async def apply(self, session: AsyncSession, batch: Sequence[Envelope[Any]]) -> list[str]:
        """Record and apply `batch` in `session`'s transaction; returns each event's outcome (processed or
        duplicate). Raises whatever a handler raises (the caller rolls back)."""
        if not batch:
            return []
        fresh = set(
            (
                await session.scalars(
                    self._record_sql,
                    {"consumer": self.consumer, "ids": [e.id for e in batch], "types": [e.type for e in batch]},
                )
            ).all()
        )
        outcomes: list[str] = []
        run: list[Envelope[Any]] = []
        run_handler: BatchHandler | None = None
        for envelope in batch:
            if envelope.id not in fresh:
                outcomes.append("duplicate")
                continue
            fresh.discard(envelope.id)  # the same event twice in one batch: apply it once
            outcomes.append("processed")
            route = self._routes[envelope.type]
            if route.batch_handler is not None and route.batch_handler is run_handler:
                run.append(envelope)
                continue
            if run_handler is not None:
                await run_handler(run, session)
            run, run_handler = [], None
            if route.batch_handler is not None:
                run, run_handler = [envelope], route.batch_handler
            elif route.handler is not None:
                with context.caused_by(
                    correlation=envelope.correlation_id, causation=envelope.id, tenant=envelope.tenant_id
                ):
                    await route.handler(envelope, session)
        if run_handler is not None:
            await run_handler(run, session)
        return outcomes


async def _undecoded(_: KafkaMessage) -> list[Any]:
    """No body: faststream would json-decode every record of a batch for a body argument the subscriber does
    not take (it reads the records from the message, and decodes each itself, by its type)."""
    return []


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
        batch_size: int = 2000,
        apply_groups: int = 1,
    ) -> None:
        self._db = database
        self._apply_groups = apply_groups
        self.group = group
        self.routes = EventRoutes(tables.processed_events, consumer=group)
        self._prefix = topic_prefix
        self._max_attempts = max_attempts
        self._backoff = retry_backoff_seconds
        self._batch_size = batch_size
        self._broker: KafkaBroker | None = None

    def on(self, model: type[E]) -> Callable[[Handler], Handler]:
        """Register `handler(envelope, session)` for events of `model`'s type."""
        return self.routes.on(model)

    def on_batch(
        self, *models: type[DomainEvent], concurrent: ConcurrentWhen | None = None
    ) -> Callable[[BatchHandler], BatchHandler]:
        """Register `handler(envelopes, session)` for runs of consecutive events of these types."""
        return self.routes.on_batch(*models, concurrent=concurrent)

    @property
    def topics(self) -> list[Topic]:
        return self.routes.topics

    def attach(self, broker: KafkaBroker) -> None:
        """Subscribe to every topic that has handlers, as ONE faststream subscriber: one consumer in the group,
        so a service joins its group once instead of rebalancing once per topic."""
        self._broker = broker
        if not self.topics:
            return
        names = [full_name(t.name, self._prefix) for t in self.topics]
        broker.subscriber(
            *names,
            group_id=self.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            batch=True,
            max_records=self._batch_size,
            batch_timeout_ms=50,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            decoder=_undecoded,  # we decode each record ourselves, by its type
            title=f"{self.group}:consumer",
            description="Consumes: " + "; ".join(f"{t.name} ({t.description})" for t in self.topics),
        )(self._consume)

    async def _consume(self, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        await self.process_batch(records)

    async def process_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Handle records in order: all in one transaction if possible, else one by one."""
        decoded: list[Envelope[Any]] = []
        origins: list[tuple[str, object]] = []  # each decoded event's topic and key (else partition)
        skipped: list[str] = []
        for record in records:
            try:
                decoded.append(self.routes.decode(record.value, record.headers))
                origins.append((record.topic, record.partition if record.key is None else record.key))
            except NotForThisService:
                skipped.append(record.topic)
            except (ValidationError, ValueError):
                break  # the slow path dead-letters it, in its place in the order
        else:
            groups = self._groups(decoded, origins)
            applied = False
            if len(groups) > 1:
                applied = await self._apply_groups_at_once(groups)
            if not applied:
                try:
                    async with self._db.transaction() as session:
                        outcomes = await self.routes.apply(session, decoded)
                except Exception as exc:
                    if is_infrastructure(exc):
                        log.warning("infrastructure unavailable; the batch will be redelivered", exc_info=True)
                        await asyncio.sleep(1.0)
                        raise
                    log.info("batch failed; replaying it record by record", extra={"error": str(exc)})
                else:
                    for (topic, _), outcome in zip(origins, outcomes, strict=True):
                        self._count(topic, outcome)
                    applied = True
            if applied:
                for topic in skipped:
                    self._count(topic, "skipped")
                return
        for record in records:
            headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
            await self.process(record.topic, record.partition, record.offset, record.value, headers)

    def _groups(
        self, decoded: Sequence[Envelope[Any]], origins: Sequence[tuple[str, object]]
    ) -> list[list[tuple[Envelope[Any], str]]]:
        """The poll's events split by key into `apply_groups` groups, each in record order (a key's events all
        in one group); one group unless every event may be applied concurrently. Empty groups are left out."""
        if self._apply_groups < 2 or not all(self.routes.concurrent(e) for e in decoded):
            return [[(e, topic) for e, (topic, _) in zip(decoded, origins, strict=True)]]
        groups: list[list[tuple[Envelope[Any], str]]] = [[] for _ in range(self._apply_groups)]
        for envelope, origin in zip(decoded, origins, strict=True):
            groups[hash(origin) % self._apply_groups].append((envelope, origin[0]))
        return [g for g in groups if g]

    async def _apply_groups_at_once(self, groups: Sequence[Sequence[tuple[Envelope[Any], str]]]) -> bool:
        """Each group in its own transaction, all at once; True when every one committed. A group that failed
        for a reason other than an unavailable dependency answers False: the caller applies the whole poll again
        in one transaction (the groups that committed are duplicates there)."""

        async def one(group: Sequence[tuple[Envelope[Any], str]]) -> list[str]:
            async with self._db.transaction() as session:
                return await self.routes.apply(session, [e for e, _ in group])

        results = await asyncio.gather(*(one(g) for g in groups), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):  # cancelled (shutdown): nothing is committed to Kafka
                raise failure
        if any(is_infrastructure(f) for f in failures):
            log.warning("infrastructure unavailable; the batch will be redelivered", exc_info=failures[0])
            await asyncio.sleep(1.0)
            raise failures[0]
        if failures:  # e.g. a deadlock between the groups: the outcomes are counted by the retry
            log.warning(
                "a group of the batch failed; applying it in one transaction",
                extra={"error": f"{type(failures[0]).__name__}: {failures[0]}"},
            )
            return False
        for group, result in zip(groups, results, strict=True):
            assert not isinstance(result, BaseException)
            for (_, topic), outcome in zip(group, result, strict=True):
                self._count(topic, outcome)
        return True

    async def process(self, topic: str, partition: int, offset: int, body: bytes, headers: dict[str, Any]) -> str:
        """Handle one record; returns the outcome (processed, duplicate, skipped, dead-lettered)."""
        try:
            raw = RawEnvelope.model_validate_json(body)
        except ValidationError as exc:
            await self._dead_letter(topic, partition, offset, body, headers, "invalid-envelope", exc)
            return self._count(topic, "dead-lettered")
        if not self.routes.handles(raw.type):
            return self._count(topic, "skipped")
        try:
            envelope = self.routes.decode(body, [("ce_type", raw.type.encode())])
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(topic, partition, offset, body, headers, "invalid-payload", exc)
            return self._count(topic, "dead-lettered")

        with context.caused_by(correlation=raw.correlation_id, causation=raw.id, tenant=raw.tenant_id):
            for attempt in range(1, self._max_attempts + 1):
                try:
                    async with self._db.transaction() as session:
                        (outcome,) = await self.routes.apply(session, [envelope])
                    return self._count(topic, outcome)
                except Exception as exc:
                    if is_infrastructure(exc):
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
                        return self._count(topic, "dead-lettered")
                    await asyncio.sleep(self._backoff * attempt)
        raise AssertionError("unreachable")

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
        EVENTS_CONSUMED.labels(service=self.group, topic=topic.removeprefix(self._prefix), outcome=outcome).inc()
        return outcome
