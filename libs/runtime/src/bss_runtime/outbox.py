"""Transactional outbox: an event is a row written in the same transaction as the state change it reports.

The relay (`relay.py`) publishes the rows later; nothing is published that was not committed, and nothing
committed is lost.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import DomainEvent, Envelope
from bss_runtime import context
from bss_runtime.tables import RuntimeTables


class EventWriter:
    """Stages events of one service into its outbox, stamped with the current correlation and causation."""

    def __init__(self, tables: RuntimeTables, *, source: str) -> None:
        self._outbox = tables.outbox
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
        envelope = Envelope.wrap(
            data,
            source=self.source,
            tenant_id=tenant_id,
            correlation_id=context.correlation_id.get(),
            causation_id=context.causation_id.get(),
            time=time,
            event_id=event_id,
        )
        await session.execute(
            insert(self._outbox).values(
                event_id=envelope.id,
                tenant_id=tenant_id,
                topic=data.topic.name,
                key=envelope.subject,
                event_type=envelope.type,
                payload=envelope.model_dump_json().encode(),
                headers=envelope.headers(),
            )
        )
        return envelope

    async def add_many(self, session: AsyncSession, data: list[DomainEvent], *, tenant_id: str) -> None:
        """Stage many events with one statement (set-based bulk work): the same rows `add` would write."""
        if not data:
            return
        rows = []
        for event in data:
            envelope = Envelope.wrap(
                event,
                source=self.source,
                tenant_id=tenant_id,
                correlation_id=context.correlation_id.get(),
                causation_id=context.causation_id.get(),
            )
            rows.append(
                {
                    "event_id": envelope.id,
                    "tenant_id": tenant_id,
                    "topic": event.topic.name,
                    "key": envelope.subject,
                    "event_type": envelope.type,
                    "payload": envelope.model_dump_json().encode(),
                    "headers": envelope.headers(),
                }
            )
        await session.execute(insert(self._outbox), rows)
