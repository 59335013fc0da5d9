"""Transactional outbox: an event is a row written in the same transaction as the state change it reports.

The relay (`relay.py`) publishes the rows later; nothing is published that was not committed, and nothing
committed is lost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import DomainEvent, Envelope
from bss_runtime import context
from bss_runtime.tables import RuntimeTables


class EventWriter:
    """Stages events of one service into its outbox, stamped with the current correlation and causation."""

    def __init__(self, tables: RuntimeTables, *, source: str) -> None:
        self._outbox = tables.outbox
        # One statement, its values as parameters: SQLAlchemy compiles it once (a `.values(...)` per event
        # would build and cache-key a new statement every time: most of a small write request's CPU).
        self._insert = insert(tables.outbox)
        # Many rows: one statement whose values travel as one array per column (its text, and so its prepared
        # plan, is the same whatever the number of rows), ids assigned in the order given.
        self._insert_many = text(
            f"INSERT INTO {tables.outbox.name} (event_id, tenant_id, topic, key, event_type, payload, headers)"  # noqa: S608 - our table name; values are bound
            " SELECT u.event_id, u.tenant_id, u.topic, u.key, u.event_type, u.payload, u.headers"
            " FROM unnest(CAST(:event_ids AS uuid[]), CAST(:tenant_ids AS text[]), CAST(:topics AS text[]),"
            " CAST(:keys AS text[]), CAST(:event_types AS text[]), CAST(:payloads AS bytea[]),"
            " CAST(:headers AS jsonb[])) WITH ORDINALITY"
            " AS u(event_id, tenant_id, topic, key, event_type, payload, headers, n) ORDER BY u.n"
        )
        self.source = source

    async def add(
        self,
        session: AsyncSession,
        data: DomainEvent,
        *,
        tenant_id: str,
        time: datetime | None = None,
        event_id: UUID | None = None,
    ) -> Envelope[DomainEvent]:
        envelope = self._wrap(data, tenant_id, time, event_id)
        await session.execute(self._insert, self._row(envelope, tenant_id))
        return envelope

    async def add_many(
        self,
        session: AsyncSession,
        events: Sequence[tuple[DomainEvent, str]],
        *,
        causes: Sequence[Envelope[Any]] | None = None,
    ) -> list[Envelope[DomainEvent]]:
        """Stage (event, tenant) pairs with one statement; the outbox keeps their order (ids ascend in the
        order given), exactly as if `add` had been called for each in turn. `causes` (one per event): the
        consumed event each was written for, as `add` inside `context.caused_by` of that event would have
        it (a batch handler applies many consumed events at once)."""
        if causes is None:
            envelopes = [self._wrap(data, tenant_id, None, None) for data, tenant_id in events]
        else:
            envelopes = []
            for (data, tenant_id), cause in zip(events, causes, strict=True):
                with context.caused_by(correlation=cause.correlation_id, causation=cause.id, tenant=cause.tenant_id):
                    envelopes.append(self._wrap(data, tenant_id, None, None))
        if len(envelopes) == 1:
            await session.execute(self._insert, self._row(envelopes[0], events[0][1]))
        elif envelopes:
            await session.execute(
                self._insert_many,
                {
                    "event_ids": [e.id for e in envelopes],
                    "tenant_ids": [tenant_id for _, tenant_id in events],
                    "topics": [e.data.topic.name for e in envelopes],
                    "keys": [e.subject for e in envelopes],
                    "event_types": [e.type for e in envelopes],
                    "payloads": [e.model_dump_json().encode() for e in envelopes],
                    "headers": [json.dumps(e.headers()) for e in envelopes],
                },
            )
        return envelopes

    def _wrap(
        self, data: DomainEvent, tenant_id: str, time: datetime | None, event_id: UUID | None
    ) -> Envelope[DomainEvent]:
        return Envelope.wrap(
            data,
            source=self.source,
            tenant_id=tenant_id,
            correlation_id=context.correlation_id.get(),
            causation_id=context.causation_id.get(),
            time=time,
            event_id=event_id,
        )

    def _row(self, envelope: Envelope[DomainEvent], tenant_id: str) -> dict[str, Any]:
        return {
            "event_id": envelope.id,
            "tenant_id": tenant_id,
            "topic": envelope.data.topic.name,
            "key": envelope.subject,
            "event_type": envelope.type,
            "payload": envelope.model_dump_json().encode(),
            "headers": envelope.headers(),
        }
