"""The tickets read model (in the read-model schema, rebuilt like every other from `bss.support.ticket`).

`support_tickets`: one row per ticket, its latest state as the support service's events told it: type, priority,
status, the affected subscribers, when it was opened, first answered (and how long that took), resolved (and how
long that took), whether either SLA clock breached, how often it was reopened.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

TS = DateTime(timezone=True)
ID = String(64)


def add_ticket_tables(md: MetaData) -> Table:
    return Table(
        "support_tickets",
        md,
        Column("tenant_id", ID, nullable=False),
        Column("ticket_id", ID, nullable=False),
        Column("customer_id", ID, nullable=False),
        Column("ticket_type", String(20), nullable=False),
        Column("priority", String(10), nullable=False),
        Column("status", String(20), nullable=False),
        Column("channel", String(20), nullable=False),
        Column("assignee", String(200)),
        Column("subscriber_ids", ARRAY(ID), nullable=False),
        Column("sla_breach_id", ID),
        Column("opened_at", TS, nullable=False),
        Column("first_response_at", TS),
        Column("response_seconds", BigInteger),
        Column("resolved_at", TS),
        Column("resolution_seconds", BigInteger),
        Column("response_breached", Boolean, nullable=False),
        Column("resolution_breached", Boolean, nullable=False),
        Column("reopen_count", Integer, nullable=False),
        PrimaryKeyConstraint("tenant_id", "ticket_id"),
        Index("ix_support_tickets_tenant_opened", "tenant_id", "opened_at"),
        Index("ix_support_tickets_tenant_resolved", "tenant_id", "resolved_at"),
    )
