"""Transactional outbox: an event is a row written in the same transaction as the state change it reports.

The relay (`relay.py`) publishes the rows later; nothing is published that was not committed, and nothing
committed is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
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
        # One statement, its values as parameters: SQLAlchemy compiles it once (a `.values(...)` per event
        # would build and cache-key a new statement every time: most of a small write request's CPU).
        self._insert = insert(tables.outbox)
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
        self, session: AsyncSession, events: Sequence[tuple[DomainEvent, str]]
    ) -> list[Envelope[DomainEvent]]:
        """Stage (event, tenant) pairs with one statement; the outbox keeps their order (ids ascend in the
        order given), exactly as if `add` had been called for each in turn."""
        envelopes = [self._wrap(data, tenant_id, None, None) for data, tenant_id in events]
        if envelopes:
            rows = [self._row(e, tenant_id) for e, (_, tenant_id) in zip(envelopes, events, strict=True)]
            await session.execute(self._insert, rows)
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
