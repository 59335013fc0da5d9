"""The support service's tables (SQLAlchemy Core), on one metadata with the runtime's outbox tables.

Tickets and what hangs off them (comments, attachments' metadata, the audit history) are ours; customers,
subscribers (with the status customers last reported, and who asked for it) and dunning executions are copies
kept from other services' events. Settings per tenant: the business calendar, SLA targets, the outage policy.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from bss_runtime.db import new_metadata
from bss_runtime.tables import add_runtime_tables

metadata = new_metadata()
runtime_tables = add_runtime_tables(metadata)

ID = String(64)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


TYPES = ("installation", "fault", "billing", "relocation", "upgrade", "other")
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending_customer", "resolved", "closed", "reopened")

tickets = Table(
    "support_tickets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("ticket_type", String(20), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("description", Text),
    Column("customer_id", ID, nullable=False),
    Column("service_address", String(500)),
    Column("subscriber_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("device_serials", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("priority", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("assignee", String(200)),
    Column("channel", String(20), nullable=False),
    Column("sla_breach_id", ID, comment="The billing SLA breach (outage) this ticket is about"),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("first_response_at", DateTime(timezone=True)),
    Column("response_due_at", DateTime(timezone=True)),
    Column("resolution_due_at", DateTime(timezone=True)),
    Column("due_overridden", Boolean, nullable=False, server_default=text("false")),
    Column("response_breached", Boolean, nullable=False, server_default=text("false")),
    Column("resolution_breached", Boolean, nullable=False, server_default=text("false")),
    Column("pauses", JSONB, nullable=False, server_default=text("'[]'::jsonb"), comment="[[start, end|null]]"),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolution_seconds", BigInteger),
    Column("closed_at", DateTime(timezone=True)),
    Column("reopen_count", Integer, nullable=False, server_default="0"),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("ticket_type", TYPES), name="ticket_type"),
    CheckConstraint(_in("priority", PRIORITIES), name="priority"),
    CheckConstraint(_in("status", STATUSES), name="status"),
    Index("ix_support_tickets_tenant_status", "tenant_id", "status", "opened_at"),
    Index("ix_support_tickets_tenant_customer", "tenant_id", "customer_id"),
    Index("ix_support_tickets_subscribers", "subscriber_ids", postgresql_using="gin"),
    # The outage policy opens one ticket per breach (= per affected customer service): the second try conflicts.
    Index(
        "uq_support_tickets_tenant_breach",
        "tenant_id",
        "sla_breach_id",
        unique=True,
        postgresql_where=text("sla_breach_id IS NOT NULL"),
    ),
    # The breach scheduler's scan: active tickets whose clocks run.
    Index(
        "ix_support_tickets_clocks",
        "response_due_at",
        "resolution_due_at",
        postgresql_where=text("status IN ('new', 'open', 'reopened')"),
    ),
)

comments = Table(
    "support_ticket_comments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("ticket_id", String(36), nullable=False),
    Column("author", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("internal", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_support_ticket_comments_ticket", "tenant_id", "ticket_id", "created_at"),
)

attachments = Table(
    "support_ticket_attachments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("ticket_id", String(36), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("storage_url", String(2000), nullable=False),
    Column("sha256", String(64)),
    Column("uploaded_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_support_ticket_attachments_ticket", "tenant_id", "ticket_id"),
)

history = Table(
    "support_ticket_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("ticket_id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("changes", JSONB, nullable=False, comment="{field: [before, after]}"),
    Index("ix_support_ticket_history_ticket", "tenant_id", "ticket_id", "id"),
)

customers = Table(
    "support_customers",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("name", String(300), nullable=False),
    Column("timezone", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id"),
)

subscribers = Table(
    "support_subscribers",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("subscriber_id", ID, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("username", String(253), nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text),
    Column("status_requested_by", String(200)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "subscriber_id"),
)

dunning = Table(
    "support_dunning_executions",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("execution_id", ID, nullable=False),
    Column("invoice_id", ID, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("subscriber_id", ID),
    Column("campaign_name", String(200)),
    Column("state", String(20), nullable=False, comment="active, recovered, exhausted, failed, canceled"),
    Column("last_action", String(40)),
    Column("outstanding_minor", BigInteger),
    Column("currency", String(3)),
    Column("started_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "execution_id"),
    Index("ix_support_dunning_customer", "tenant_id", "customer_id"),
)

calendars = Table(
    "support_calendars",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("hours", JSONB, nullable=False, comment='{"0": ["09:00", "17:00"], ...} Monday = 0'),
    Column("holidays", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
)

sla_policies = Table(
    "support_sla_policies",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("priority", String(10), nullable=False),
    Column("ticket_type", String(20), nullable=False, comment="'*' for every type"),
    Column("response_minutes", Integer, nullable=False),
    Column("resolution_minutes", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "priority", "ticket_type"),
    CheckConstraint("response_minutes > 0 AND resolution_minutes >= response_minutes", name="targets"),
)

outage_policies = Table(
    "support_outage_policies",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("min_severity", String(10), nullable=False, server_default="minor"),
)
