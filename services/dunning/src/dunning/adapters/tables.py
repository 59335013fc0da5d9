"""The dunning service's tables (SQLAlchemy Core), on one metadata with the runtime's outbox tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from bss_runtime.bulk import add_bulk_tables
from bss_runtime.db import new_metadata
from bss_runtime.tables import add_runtime_tables

metadata = new_metadata()
runtime_tables = add_runtime_tables(metadata)
bulk_tables = add_bulk_tables(metadata)  # bulk operations and their items (bss_runtime.bulk)

ACTIVE = "status IN ('pending', 'in_progress')"


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


campaigns = Table(
    "dunning_campaigns",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("trigger_after_days", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("retry_interval_days", Integer, nullable=False),
    Column("actions", JSONB, nullable=False),
    Column("exclusion_rules", JSONB, nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("webhook_secret", String(500)),
    *_timestamps(),
    UniqueConstraint("tenant_id", "name"),
    Index("ix_dunning_campaigns_tenant_active_priority", "tenant_id", "is_active", "priority"),
)

executions = Table(
    "dunning_executions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("campaign_id", String(36), ForeignKey("dunning_campaigns.id"), nullable=False),
    Column("campaign_name", String(200), nullable=False),
    Column("invoice_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("subscriber_id", String(64)),
    Column("status", String(20), nullable=False),
    Column("current_step", Integer, nullable=False, server_default="0"),
    Column("total_steps", Integer, nullable=False),
    Column("retry_count", Integer, nullable=False, server_default="0"),
    Column("plan", JSONB, nullable=False),  # the campaign's actions and policies when this started
    Column("currency", String(3), nullable=False),
    Column("initial_outstanding_minor", BigInteger, nullable=False),
    Column("outstanding_minor", BigInteger, nullable=False),
    Column("recovered_minor", BigInteger, nullable=False, server_default="0"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("next_action_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("canceled_reason", Text),
    Column("canceled_by", String(200)),
    # Subscribers a step of this execution suspended and that are not reinstated yet.
    Column("suspended_subscriber_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("correlation_id", String(36)),  # the business flow (from the InvoiceOverdue that started it)
    *_timestamps(),
    CheckConstraint("status IN ('pending', 'in_progress', 'completed', 'failed', 'canceled')", name="status_known"),
    CheckConstraint("current_step >= 0 AND current_step <= total_steps", name="step_in_range"),
    # At most one active execution per invoice, whatever races the application has.
    Index(
        "uq_dunning_executions_one_active_per_invoice",
        "tenant_id",
        "invoice_id",
        unique=True,
        postgresql_where=text(ACTIVE),
    ),
    # The durable schedule: workers look for due active executions only.
    Index("ix_dunning_executions_due", "next_action_at", postgresql_where=text(ACTIVE)),
    Index("ix_dunning_executions_tenant_status", "tenant_id", "status"),
    Index("ix_dunning_executions_tenant_invoice", "tenant_id", "invoice_id"),
    Index("ix_dunning_executions_tenant_campaign", "tenant_id", "campaign_id"),
)

action_logs = Table(
    "dunning_action_logs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("execution_id", String(36), ForeignKey("dunning_executions.id"), nullable=False),
    Column("step_number", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("action_type", String(30), nullable=False),
    Column("action_config", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("result", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("error_message", Text),
    Column("external_id", String(500)),
    Column("executed_at", DateTime(timezone=True), nullable=False),
    # One row per attempt of a step: a second worker running the same attempt cannot commit.
    UniqueConstraint("execution_id", "step_number", "attempt"),
    Index("ix_dunning_action_logs_tenant_type", "tenant_id", "action_type"),
)

# The intent of each external call a step makes (email, SMS, webhook), recorded and committed before the call,
# which is made with no lock held; the outcome is recorded in a later transaction. A row still `pending` when
# its execution is next claimed is a call whose outcome was never recorded (the process died): it is made again,
# the same request with the same idempotency key (services/dunning/src/dunning/service_layer/steps.py).
action_attempts = Table(
    "dunning_action_attempts",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("execution_id", String(36), ForeignKey("dunning_executions.id"), primary_key=True),
    Column("step_number", Integer, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("action_type", String(30), nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    Column("state", String(20), nullable=False),  # pending | done
    Column("request", JSONB, nullable=False),  # what is sent, exactly: a repeated call sends the same
    Column("calls", Integer, nullable=False, server_default="0"),  # calls started (more than 1: after a crash)
    Column("outcome", String(20)),  # succeeded | failed, once done
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("state IN ('pending', 'done')", name="state_known"),
    UniqueConstraint("tenant_id", "idempotency_key"),
)

balance_changes = Table(
    "dunning_balance_changes",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("execution_id", String(36), ForeignKey("dunning_executions.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # payment | credit_note | invoice_paid
    Column("reference_id", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("outstanding_after_minor", BigInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("execution_id", "kind", "reference_id"),
)

# Overdue invoices as billing reported them; an execution starts from here (now or on a later check).
invoices = Table(
    "dunning_invoices",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("invoice_id", String(64), primary_key=True),
    Column("invoice_number", String(64), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("subscriber_id", String(64)),
    Column("partner_id", String(64)),
    Column("currency", String(3), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("balance_minor", BigInteger, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", String(20), nullable=False),  # overdue | paid | voided
    Column("next_check_at", DateTime(timezone=True)),
    Column("execution_id", String(36)),
    Column("check_note", Text),  # why no execution started yet
    *_timestamps(),
    Index(
        "ix_dunning_invoices_to_check",
        "next_check_at",
        postgresql_where=text("status = 'overdue' AND execution_id IS NULL"),
    ),
)

customers = Table(
    "dunning_customers",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("email", String(320)),
    Column("phone", String(50)),
    Column("partner_id", String(64)),
    Column("tags", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("timezone", String(64)),
    Column("source_updated_at", DateTime(timezone=True), nullable=False),
)

subscribers = Table(
    "dunning_subscribers",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("subscriber_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("username", String(253), nullable=False),
    Column("status", String(20), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_dunning_subscribers_customer", "tenant_id", "customer_id"),
)
