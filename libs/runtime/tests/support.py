"""A tiny service for testing the runtime: a ledger of applied events, on the runtime's own tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import Envelope
from bss_contracts.events.dunning import NotificationRequested
from bss_runtime.db import new_metadata
from bss_runtime.tables import add_runtime_tables

metadata: MetaData = new_metadata()
tables = add_runtime_tables(metadata)
ledger = Table(
    "ledger",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),  # a second effect would violate this
    Column("customer_id", String, nullable=False),
    Column("seq", Integer, nullable=False),
)


def notification(customer: str, seq: int, body: str = "hello") -> NotificationRequested:
    return NotificationRequested(
        notification_id=str(uuid.uuid4()),
        customer_id=customer,
        channel="email",
        recipient=f"{customer}@x.test",
        template=f"seq-{seq}",
        body=body,
        requested_at=datetime.now(UTC),
    )


async def apply_to_ledger(event: Envelope[NotificationRequested], session: AsyncSession) -> None:
    if event.data.body == "explode":
        raise RuntimeError("this handler cannot process explode")
    seq = int(event.data.template.removeprefix("seq-"))
    await session.execute(insert(ledger).values(event_id=event.id, customer_id=event.data.customer_id, seq=seq))
