"""The billing service's tables (SQLAlchemy Core), on one metadata with the runtime's outbox tables.

Money is integer minor units next to an ISO 4217 `currency`; instants are timestamptz (UTC); business dates
(due dates, period bounds) are `date`s in the customer's time zone. Every table has `tenant_id` and every
unique constraint includes it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from bss_runtime.bulk import add_bulk_tables
from bss_runtime.db import new_metadata
from bss_runtime.tables import add_runtime_tables

metadata = new_metadata()
runtime_tables = add_runtime_tables(metadata)
bulk_tables = add_bulk_tables(metadata)  # bulk operations and their items (bss_runtime.bulk)

ID = 64  # ids are UUID text here, but other services' ids may be longer


def _tenant() -> Column[str]:
    return Column("tenant_id", String(64), nullable=False)


def _created() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


# --- our copy of the customers service's facts -----------------------------------------------------------------

customers = Table(
    "billing_customers",
    metadata,
    _tenant(),
    Column("customer_id", String(ID), nullable=False),
    Column("name", String(300), nullable=False),
    Column("partner_id", String(ID)),
    Column("billing_country", String(2)),
    Column("timezone", String(64), nullable=False),
    Column("source_updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id"),
)

subscribers = Table(
    "billing_subscribers",
    metadata,
    _tenant(),
    Column("subscriber_id", String(ID), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("username", String(253), nullable=False),
    Column("status", String(20), nullable=False),
    Column("plan_id", String(ID)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "subscriber_id"),
    Index("ix_billing_subscribers_username", "tenant_id", "username"),
)

# --- plans and subscriptions ------------------------------------------------------------------------------------

plans = Table(
    "plans",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("included_octets", BigInteger),  # NULL: unlimited data
    Column("overage_price_per_gb_minor", BigInteger, nullable=False),
    Column("overage_increment_octets", BigInteger, nullable=False),
    Column("tax_rate_bp", Integer, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    _created(),
    UniqueConstraint("tenant_id", "code"),
    CheckConstraint("price_minor >= 0 AND overage_price_per_gb_minor >= 0", name="non_negative_prices"),
)

HISTORY_MISSING = (
    "started_event_at IS NULL OR (end_date IS NOT NULL AND canceled_event_at IS NULL)"
    " OR (status = 'ended' AND ended_event_at IS NULL)"
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("subscriber_id", String(ID), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("plan_id", String(36), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("start_date", Date, nullable=False),  # the cycle anchor
    Column("end_date", Date),  # exclusive: no cycle starts on or after it
    Column("status", String(20), nullable=False),  # active, ended
    Column("next_cycle", Integer, nullable=False, server_default="0"),  # the first cycle not closed yet
    Column("next_close_at", DateTime(timezone=True)),  # when that cycle may be closed
    # When its SubscriptionStarted / Canceled / Ended event was written to the outbox (NULL: not yet; the
    # history pass writes what is missing, so subscriptions older than these events get them too).
    Column("started_event_at", DateTime(timezone=True)),
    Column("canceled_event_at", DateTime(timezone=True)),
    Column("ended_event_at", DateTime(timezone=True)),
    _created(),
    ForeignKeyConstraint(["plan_id"], ["plans.id"]),
    Index(
        "uq_subscriptions_active_subscriber",
        "tenant_id",
        "subscriber_id",
        unique=True,
        postgresql_where=text("status = 'active'"),
    ),
    Index("ix_subscriptions_next_close_at", "next_close_at", postgresql_where=text("status = 'active'")),
    Index("ix_subscriptions_customer", "tenant_id", "customer_id"),
    # Every subscription of a subscriber, ended ones too (a session's usage bills the subscriptions of its line):
    # the partial unique index above serves only the active one.
    Index("ix_subscriptions_subscriber", "tenant_id", "subscriber_id"),
    Index("ix_subscriptions_history_missing", "tenant_id", "id", postgresql_where=text(HISTORY_MISSING)),
)

plan_changes = Table(
    "plan_changes",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("subscription_id", String(36), nullable=False),
    Column("from_plan_id", String(36), nullable=False),
    Column("to_plan_id", String(36), nullable=False),
    Column("timing", String(10), nullable=False),  # now, period_end
    Column("status", String(10), nullable=False),  # scheduled, applied, superseded
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("effective_at", DateTime(timezone=True), nullable=False),
    # An immediate change inside a cycle: the cycle whose invoice carries the proration, and its amounts.
    Column("proration_period_start", Date),
    Column("proration_credit_minor", BigInteger, nullable=False, server_default="0"),
    Column("proration_charge_minor", BigInteger, nullable=False, server_default="0"),
    Column("proration_rule", Text),
    Column("invoice_id", String(36)),  # the invoice that billed the proration
    _created(),
    ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"]),
    ForeignKeyConstraint(["from_plan_id"], ["plans.id"]),
    ForeignKeyConstraint(["to_plan_id"], ["plans.id"]),
    CheckConstraint("timing IN ('now', 'period_end')", name="timing"),
    CheckConstraint("status IN ('scheduled', 'applied', 'superseded')", name="status"),
    Index("ix_plan_changes_subscription", "tenant_id", "subscription_id", "effective_at"),
    Index("ix_plan_changes_due", "effective_at", postgresql_where=text("status = 'scheduled'")),
)

# --- usage ------------------------------------------------------------------------------------------------------

usage_samples = Table(
    "usage_samples",
    metadata,
    _tenant(),
    Column("session_key", String(255), nullable=False),
    Column("bucket_start", DateTime(timezone=True), nullable=False),
    Column("username", String(253), nullable=False),
    Column("input_octets", BigInteger, nullable=False),  # the highest cumulative counters seen in the bucket
    Column("output_octets", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "session_key", "bucket_start"),
    Index("ix_usage_samples_username_bucket", "tenant_id", "username", "bucket_start"),
)

usage_periods = Table(
    "usage_periods",
    metadata,
    _tenant(),
    Column("subscription_id", String(36), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),  # exclusive
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("input_octets", BigInteger, nullable=False),
    Column("output_octets", BigInteger, nullable=False),
    Column("included_octets", BigInteger),
    Column("overage_octets", BigInteger, nullable=False),
    Column("billed_minor", BigInteger, nullable=False),  # overage charged so far for this period, adjustments included
    Column("currency", String(3), nullable=False),
    Column("invoice_id", String(36), nullable=False),  # the invoice that closed it
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("dirty_since", DateTime(timezone=True)),  # a late session event changed its usage: re-bill
    PrimaryKeyConstraint("tenant_id", "subscription_id", "period_start"),
    Index("ix_usage_periods_dirty", "tenant_id", "subscription_id", postgresql_where=text("dirty_since IS NOT NULL")),
)

usage_resets = Table(
    "usage_resets",
    metadata,
    _tenant(),
    Column("subscription_id", String(36), nullable=False),
    Column("period_start", Date, nullable=False),  # the cycle whose counters were reset
    Column("counts_from", DateTime(timezone=True), nullable=False),  # the cycle's usage counts from here on
    Column("reset_at", DateTime(timezone=True), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("operation_id", String(36)),  # the bulk operation that reset it
    PrimaryKeyConstraint("tenant_id", "subscription_id", "period_start", "counts_from"),
)

# --- invoices, payments, credit ---------------------------------------------------------------------------------

document_counters = Table(
    "document_counters",
    metadata,
    _tenant(),
    Column("series", String(8), nullable=False),
    Column("year", Integer, nullable=False),
    Column("last_value", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "series", "year"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("number", String(32)),  # assigned when issued
    Column("customer_id", String(ID), nullable=False),
    Column("subscriber_id", String(ID)),
    Column("subscription_id", String(36)),
    Column("partner_id", String(ID)),
    Column("billing_country", String(2)),
    Column("currency", String(3), nullable=False),
    Column("status", String(10), nullable=False),  # draft, open, paid, void
    Column("memo", Text),
    Column("period_start", Date),
    Column("period_end", Date),  # exclusive
    Column("issue_date", Date),
    Column("due_date", Date),
    Column("payment_terms_days", Integer),
    Column("subtotal_minor", BigInteger, nullable=False, server_default="0"),
    Column("tax_minor", BigInteger, nullable=False, server_default="0"),
    Column("total_minor", BigInteger, nullable=False, server_default="0"),
    Column("balance_minor", BigInteger, nullable=False, server_default="0"),
    Column("overdue_at", DateTime(timezone=True)),  # start of the day after the due date, customer's time zone
    Column("overdue_notified_at", DateTime(timezone=True)),
    Column("issued_at", DateTime(timezone=True)),
    Column("paid_at", DateTime(timezone=True)),
    Column("voided_at", DateTime(timezone=True)),
    Column("void_reason", Text),
    _created(),
    UniqueConstraint("tenant_id", "number"),
    UniqueConstraint("tenant_id", "subscription_id", "period_start"),
    CheckConstraint(
        "status IN ('draft', 'void') OR balance_minor >= 0 AND balance_minor <= total_minor", name="balance_range"
    ),
    CheckConstraint("status IN ('draft', 'open', 'paid', 'void')", name="status"),
    Index("ix_invoices_customer", "tenant_id", "customer_id", "currency", "status"),
    Index(
        "ix_invoices_overdue_due",
        "overdue_at",
        postgresql_where=text("status = 'open' AND overdue_notified_at IS NULL"),
    ),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _tenant(),
    Column("invoice_id", String(36), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("quantity", Numeric(18, 6), nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("tax_rate_bp", Integer, nullable=False),
    Column("tax_minor", BigInteger, nullable=False),
    Column("usage_period_start", Date),  # overage and adjustment lines: the usage period they bill
    ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
    UniqueConstraint("invoice_id", "position"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("unapplied_minor", BigInteger, nullable=False),
    Column("method", String(50)),
    Column("reference", String(200)),
    Column("external_id", String(200)),  # the payer's id: a repeated POST returns the first payment
    Column("invoice_id", String(36)),  # the invoice it was meant for, if named
    Column("received_at", DateTime(timezone=True), nullable=False),
    _created(),
    UniqueConstraint("tenant_id", "external_id"),
    CheckConstraint("amount_minor > 0 AND unapplied_minor >= 0", name="amounts"),
    Index("ix_payments_customer", "tenant_id", "customer_id"),
)

credit_notes = Table(
    "credit_notes",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("number", String(32), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("invoice_id", String(36)),
    Column("kind", String(10), nullable=False),  # manual, sla
    Column("amount_minor", BigInteger, nullable=False),
    Column("applied_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", Text, nullable=False),
    Column("sla_breach_id", String(36)),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "number"),
    CheckConstraint("amount_minor > 0 AND applied_minor >= 0 AND applied_minor <= amount_minor", name="amounts"),
    Index("ix_credit_notes_customer", "tenant_id", "customer_id"),
)

# What settled each invoice: a payment, a credit note, or the customer's credit balance.
applications = Table(
    "applications",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _tenant(),
    Column("invoice_id", String(36), nullable=False),
    Column("source", String(20), nullable=False),  # payment, credit_note, customer_credit
    Column("source_id", String(36), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount_minor > 0", name="positive"),
    Index("ix_applications_invoice", "tenant_id", "invoice_id"),
)

# A customer's unapplied money, per currency (never one balance across currencies), and its history.
customer_credits = Table(
    "customer_credits",
    metadata,
    _tenant(),
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance_minor", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id", "currency"),
    CheckConstraint("balance_minor >= 0", name="non_negative"),
)

credit_entries = Table(
    "credit_entries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _tenant(),
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # + money kept, - money used
    Column("reason", String(30), nullable=False),  # overpayment, credit_note, applied_to_invoice, invoice_voided
    Column("reference_id", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_credit_entries_customer", "tenant_id", "customer_id", "currency"),
)

# --- SLA --------------------------------------------------------------------------------------------------------

sla_definitions = Table(
    "sla_definitions",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("name", String(200), nullable=False),
    Column("target_percent", Numeric(7, 4), nullable=False),
    Column("measurement_period", String(10), nullable=False),  # month, quarter
    Column("step_percent", Numeric(7, 4), nullable=False),
    Column("credit_percent_per_step", Numeric(7, 4), nullable=False),
    Column("cap_percent", Numeric(7, 4), nullable=False),
    Column("major_from_points", Numeric(7, 4), nullable=False),
    Column("critical_from_points", Numeric(7, 4), nullable=False),
    _created(),
    UniqueConstraint("tenant_id", "name"),
)

sla_instances = Table(
    "sla_instances",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("definition_id", String(36), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("subscriber_id", String(ID)),
    Column("service_name", String(200), nullable=False),
    Column("monthly_fee_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active_from", DateTime(timezone=True), nullable=False),
    Column("next_period_start", Date, nullable=False),  # the first measurement period not evaluated finally
    Column("next_evaluation_at", DateTime(timezone=True), nullable=False),  # when that period ends
    _created(),
    ForeignKeyConstraint(["definition_id"], ["sla_definitions.id"]),
    Index("ix_sla_instances_next_evaluation", "next_evaluation_at"),
    Index("ix_sla_instances_customer", "tenant_id", "customer_id"),
)

sla_outages = Table(
    "sla_outages",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("instance_id", String(36), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),  # NULL: still going on
    Column("external_id", String(200)),  # the monitoring system's id: a repeated report is the same outage
    Column("description", Text),
    Column("reported_by", String(200), nullable=False),
    _created(),
    ForeignKeyConstraint(["instance_id"], ["sla_instances.id"]),
    UniqueConstraint("tenant_id", "instance_id", "external_id"),
    CheckConstraint("ended_at IS NULL OR ended_at > started_at", name="ends_after_start"),
    Index("ix_sla_outages_instance", "tenant_id", "instance_id", "started_at"),
    Index("ix_sla_outages_ongoing", "instance_id", postgresql_where=text("ended_at IS NULL")),
)

sla_breaches = Table(
    "sla_breaches",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("instance_id", String(36), nullable=False),
    Column("customer_id", String(ID), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),  # exclusive
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("target_percent", Numeric(7, 4), nullable=False),
    Column("actual_percent", Numeric(12, 8), nullable=False),  # the latest evaluation
    Column("detected_actual_percent", Numeric(12, 8), nullable=False),
    Column("credited_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("final", Boolean, nullable=False, server_default=text("false")),  # the period is over and evaluated
    Column("status", String(10), nullable=False),  # open, resolved
    Column("resolution", Text),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    ForeignKeyConstraint(["instance_id"], ["sla_instances.id"]),
    UniqueConstraint("tenant_id", "instance_id", "period_start"),
    Index("ix_sla_breaches_tenant", "tenant_id", "status"),
)
