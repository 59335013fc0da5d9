"""The read models: tables this service fills from events and answers reports from.

Every table lives in one PostgreSQL schema, "readmodel", together with the runtime's processed-events and
outbox tables. `python -m reporting.rebuild` builds the same tables in a twin schema from the topics and swaps
the two, so `build_tables(schema)` describes them for any schema name. (Not "reporting": a schema named like
the database role would come first on its default search_path, and Alembic's version table would follow it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

from bss_runtime.db import NAMING_CONVENTION
from bss_runtime.tables import RuntimeTables, add_runtime_tables
from reporting.analytics.adapters.tables import (
    add_concurrency_tables,
    add_online_tables,
    add_revenue_tables,
    add_usage_tables,
)
from reporting.tickets.adapters.tables import add_ticket_tables

LIVE_SCHEMA = "readmodel"
SESSION_SUMS = ["start_time", "input_octets", "output_octets", "session_time_seconds"]
# What the sessions report shows of a session, beyond the index keys and the sums.
SESSION_SHOWN = [
    *("acct_session_id", "nas_id", "nas_ip_address", "framed_ip_address", "framed_ipv6_prefix"),
    *("delegated_ipv6_prefix", "calling_station_id", "stop_time", "stop_source", "terminate_cause"),
]
TS = DateTime(timezone=True)
ID = String(64)


def _tenant() -> Column[str]:
    return Column("tenant_id", String(64), nullable=False)


@dataclass(frozen=True)
class ReadModel:
    schema: str
    metadata: MetaData
    runtime: RuntimeTables
    customers: Table
    partners: Table
    subscribers: Table
    invoices: Table
    invoice_movements: Table
    customer_balances: Table
    aging_balances: Table
    aging_changes: Table
    sla_breaches: Table
    sla_credits: Table
    sla_totals: Table
    dunning_executions: Table
    sessions: Table
    session_hours: Table
    session_days: Table
    nas_resets: Table
    subscription_mrr_changes: Table
    customer_mrr_changes: Table
    mrr_days: Table
    mrr_movements: Table
    concurrency_changes: Table
    concurrency_buckets: Table
    usage_days: Table
    usage_months: Table
    online_levels: Table  # not in model_tables: its `as_of` is when a worker last moved it on
    support_tickets: Table

    @property
    def model_tables(self) -> tuple[Table, ...]:
        """The read-model tables (what a rebuild must reproduce row for row)."""
        return (
            self.customers,
            self.partners,
            self.subscribers,
            self.invoices,
            self.invoice_movements,
            self.customer_balances,
            self.aging_balances,
            self.aging_changes,
            self.sla_breaches,
            self.sla_credits,
            self.sla_totals,
            self.dunning_executions,
            self.sessions,
            self.session_hours,
            self.session_days,
            self.nas_resets,
            self.subscription_mrr_changes,
            self.customer_mrr_changes,
            self.mrr_days,
            self.mrr_movements,
            self.concurrency_changes,
            self.concurrency_buckets,
            self.usage_days,
            self.usage_months,
            self.support_tickets,
        )


def build_tables(schema: str = LIVE_SCHEMA) -> ReadModel:
    md = MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    runtime = add_runtime_tables(md)

    customers = Table(
        "customers",
        md,
        _tenant(),
        Column("customer_id", ID, nullable=False),
        Column("name", String(300), nullable=False),
        Column("email", String(320)),
        Column("phone", String(50)),
        Column("partner_id", ID),
        Column("region", String(100)),
        Column("billing_country", String(2)),
        Column("source_updated_at", TS, nullable=False),
        Column("timezone", String(64), nullable=False, server_default="UTC"),  # last: added by migration 0005
        PrimaryKeyConstraint("tenant_id", "customer_id"),
    )

    # Partner names, for aging by partner (PartnerCreated/PartnerUpdated; the newest by updated_at wins).
    partners = Table(
        "partners",
        md,
        _tenant(),
        Column("partner_id", ID, nullable=False),
        Column("name", String(300), nullable=False),
        Column("source_updated_at", TS, nullable=False),
        PrimaryKeyConstraint("tenant_id", "partner_id"),
    )

    subscribers = Table(
        "subscribers",
        md,
        _tenant(),
        Column("subscriber_id", ID, nullable=False),
        Column("customer_id", ID),
        Column("username", String(253)),
        Column("plan_id", ID),
        Column("status", String(20)),
        Column("created_at", TS),
        Column("activated_at", TS),
        Column("suspended_at", TS),
        Column("suspension_reason", Text),
        Column("terminated_at", TS),
        Column("status_changed_at", TS),
        PrimaryKeyConstraint("tenant_id", "subscriber_id"),
        Index("ix_subscribers_tenant_username", "tenant_id", "username"),
        Index("ix_subscribers_tenant_customer", "tenant_id", "customer_id"),
        Index("ix_subscribers_suspended", "tenant_id", "suspended_at", postgresql_where=text("status = 'suspended'")),
    )

    # One row per invoice. `partner_id` and `billing_country` are what aging groups by: the invoice's own
    # values when billing sent them, else the customer's (filled in whenever either event arrives).
    invoices = Table(
        "invoices",
        md,
        _tenant(),
        Column("invoice_id", ID, nullable=False),
        Column("invoice_number", String(64), nullable=False),
        Column("customer_id", ID, nullable=False),
        Column("subscriber_id", ID),
        Column("invoice_partner_id", ID),
        Column("invoice_billing_country", String(2)),
        Column("partner_id", ID),
        Column("billing_country", String(2)),
        Column("currency", String(3), nullable=False),
        Column("issue_date", Date, nullable=False),
        Column("due_date", Date, nullable=False),
        Column("total_minor", BigInteger, nullable=False),
        Column("balance_minor", BigInteger, nullable=False),
        Column("status", String(20), nullable=False),
        Column("issued_at", TS, nullable=False),
        Column("overdue_at", TS),
        Column("paid_at", TS),
        Column("voided_at", TS),
        PrimaryKeyConstraint("tenant_id", "invoice_id"),
        Index(
            "ix_invoices_open_by_customer",
            "tenant_id",
            "customer_id",
            postgresql_include=["currency", "due_date", "balance_minor"],
            postgresql_where=text("balance_minor > 0"),
        ),
        Index("ix_invoices_tenant_customer", "tenant_id", "customer_id"),
        # Open invoices declared overdue, by when: the blocked-customers report asks for those whose
        # InvoiceOverdue is later than its `now` (none, unless the clock is behind billing's).
        Index(
            "ix_invoices_open_overdue_at",
            "tenant_id",
            "overdue_at",
            postgresql_where=text("balance_minor > 0 AND overdue_at IS NOT NULL"),
        ),
    )

    # Per customer and currency, what its invoices with a positive balance add up to (domain/customer_balances.py):
    # how many, how many billing declared overdue, and the balance. Kept from the invoice events in the same
    # transaction as `invoices` (service_layer/customer_balances.py), so the blocked-customers report reads one
    # row per suspended subscriber and currency instead of summing invoices. A customer owing nothing has no row.
    customer_balances = Table(
        "customer_balances",
        md,
        _tenant(),
        Column("customer_id", ID, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("currency_exponent", SmallInteger, nullable=False),
        Column("open_invoices", BigInteger, nullable=False),
        Column("overdue_invoices", BigInteger, nullable=False),
        Column("balance_minor", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "customer_id", "currency"),
    )

    # Every change of an invoice's balance, at the time it took effect: the balance as of any past date is
    # the current balance minus the movements after it. Invariant: balance_minor = sum(delta_minor).
    invoice_movements = Table(
        "invoice_movements",
        md,
        _tenant(),
        Column("movement_id", UUID(as_uuid=True), nullable=False),  # the event that moved the balance
        Column("invoice_id", ID, nullable=False),
        Column("kind", String(20), nullable=False),
        Column("effective_at", TS, nullable=False),
        Column("delta_minor", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "movement_id"),
        Index("ix_invoice_movements_tenant_effective", "tenant_id", "effective_at"),
        Index("ix_invoice_movements_tenant_invoice", "tenant_id", "invoice_id"),
    )

    # Open balances summed by what aging groups and buckets by ('' stands for no partner / no country), so that
    # aging reads hundreds of rows, not every open invoice. aging_changes keeps, per day, how much those sums
    # changed (domain/aging.py `contribution`): aging as of a past day is today's sums minus the later changes.
    def aging_keys() -> tuple[Column[Any], ...]:
        return (
            Column("partner_key", ID, nullable=False),
            Column("country_key", String(2), nullable=False),
            Column("currency", String(3), nullable=False),
            Column("due_date", Date, nullable=False),
        )

    aging_balances = Table(
        "aging_balances",
        md,
        _tenant(),
        *aging_keys(),
        Column("invoice_count", BigInteger, nullable=False),
        Column("balance_minor", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "partner_key", "country_key", "currency", "due_date"),
    )
    aging_changes = Table(
        "aging_changes",
        md,
        _tenant(),
        Column("effective_date", Date, nullable=False),
        *aging_keys(),
        Column("invoice_count", BigInteger, nullable=False),
        Column("balance_minor", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "effective_date", "partner_key", "country_key", "currency", "due_date"),
    )

    sla_breaches = Table(
        "sla_breaches",
        md,
        _tenant(),
        Column("breach_id", ID, nullable=False),
        Column("instance_id", ID, nullable=False),
        Column("customer_id", ID, nullable=False),
        Column("sla_definition_id", ID),
        Column("service_id", ID),
        Column("service_name", String(300)),
        Column("breach_type", String(40)),
        Column("severity", String(20)),
        Column("target_value", Float),
        Column("actual_value", Float),
        Column("deviation_percent", Float),
        Column("period_start", TS),
        Column("period_end", TS),
        Column("detected_at", TS),
        Column("expected_credit_minor", BigInteger),
        Column("currency", String(3)),
        Column("currency_exponent", SmallInteger),
        Column("resolved_at", TS),
        Column("resolution", Text),
        Column("credit_issued_minor", BigInteger, nullable=False, server_default="0"),
        PrimaryKeyConstraint("tenant_id", "breach_id"),
        Index("ix_sla_breaches_tenant_detected", "tenant_id", "detected_at"),
    )

    sla_credits = Table(
        "sla_credits",
        md,
        _tenant(),
        Column("credit_note_id", ID, nullable=False),
        Column("breach_id", ID, nullable=False),
        Column("instance_id", ID, nullable=False),
        Column("amount_minor", BigInteger, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("issued_at", TS, nullable=False),
        PrimaryKeyConstraint("tenant_id", "credit_note_id"),
        Index("ix_sla_credits_tenant_breach", "tenant_id", "breach_id"),
    )

    dunning_executions = Table(
        "dunning_executions",
        md,
        _tenant(),
        Column("execution_id", ID, nullable=False),
        Column("campaign_id", ID, nullable=False),
        Column("campaign_name", String(200)),
        Column("invoice_id", ID, nullable=False),
        Column("customer_id", ID, nullable=False),
        Column("subscriber_id", ID),
        Column("status", String(20), nullable=False),  # active, completed, canceled
        Column("outcome", String(20)),
        Column("last_step_number", Integer),
        Column("last_step_at", TS),
        Column("started_at", TS),
        Column("ended_at", TS),
        PrimaryKeyConstraint("tenant_id", "execution_id"),
        Index("ix_dunning_executions_tenant_customer", "tenant_id", "customer_id"),
    )

    # One row per session, partitioned by month of start_time (partitions: adapters/partitions.py).
    sessions = Table(
        "sessions",
        md,
        _tenant(),
        Column("session_key", String(255), nullable=False),
        Column("start_time", TS, nullable=False),
        Column("username", String(253), nullable=False),
        Column("acct_session_id", String(255), nullable=False),
        Column("nas_id", ID, nullable=False),
        Column("nas_ip_address", String(45), nullable=False),
        Column("framed_ip_address", String(45)),
        Column("framed_ipv6_prefix", String(64)),
        Column("delegated_ipv6_prefix", String(64)),
        Column("calling_station_id", String(64)),
        Column("event_time", TS, nullable=False),
        Column("time", TS, nullable=False),
        Column("stop_source", String(4)),
        Column("stop_time", TS),
        Column("terminate_cause", String(64)),
        Column("session_time_seconds", BigInteger, nullable=False),
        Column("input_octets", BigInteger, nullable=False),
        Column("output_octets", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "session_key", "start_time"),
        # Both end with session_key, so that a page (time DESC, session_key DESC) is read in index order and
        # stops after one page even when many sessions share a time; both carry what summaries add up, so
        # that summing reads the index alone (no table pages). One subscriber's sessions are scattered over
        # the table's pages but next to each other in the username index: it carries every column the report
        # shows, so that a subscriber's page is read from a few index pages, not one table page per session.
        Index("ix_sessions_tenant_time", "tenant_id", "time", "session_key", postgresql_include=SESSION_SUMS),
        Index(
            "ix_sessions_tenant_username_time",
            *("tenant_id", "username", "time", "session_key"),
            postgresql_include=SESSION_SUMS + SESSION_SHOWN,
        ),
        Index(
            "ix_sessions_unstopped_by_nas",
            "tenant_id",
            "nas_id",
            "start_time",
            postgresql_where=text("stop_source IS DISTINCT FROM 'stop'"),
        ),
        postgresql_partition_by="RANGE (start_time)",
    )

    # Sessions summed by the hour of their `time`, so that a tenant-wide summary over months reads hundreds
    # of rows instead of millions. Kept equal to the sum over `sessions` by every write to it.
    session_hours = Table(
        "session_hours",
        md,
        _tenant(),
        Column("hour", TS, nullable=False),
        Column("sessions", BigInteger, nullable=False),
        Column("input_octets", BigInteger, nullable=False),
        Column("output_octets", BigInteger, nullable=False),
        Column("session_time_seconds", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "hour"),
    )

    # The same, by UTC day: a year-long summary reads 365 rows and a couple of days' hours.
    session_days = Table(
        "session_days",
        md,
        _tenant(),
        Column("day", Date, nullable=False),
        Column("sessions", BigInteger, nullable=False),
        Column("input_octets", BigInteger, nullable=False),
        Column("output_octets", BigInteger, nullable=False),
        Column("session_time_seconds", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "day"),
    )

    # Detected breaches counted, and their issued credits summed, by currency and whether resolved: the SLA
    # report's summary of every breach reads these few rows. Kept equal to the sums over `sla_breaches` by
    # every write to it (service_layer/sla.py).
    sla_totals = Table(
        "sla_totals",
        md,
        _tenant(),
        Column("currency", String(3), nullable=False),
        Column("resolved", Boolean, nullable=False),
        Column("breaches", BigInteger, nullable=False),
        Column("credit_issued_minor", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "currency", "resolved"),
    )

    nas_resets = Table(
        "nas_resets",
        md,
        _tenant(),
        Column("nas_id", ID, nullable=False),
        Column("event_time", TS, nullable=False),
        Column("reason", String(20), nullable=False),
        PrimaryKeyConstraint("tenant_id", "nas_id", "event_time"),
    )

    subscription_mrr_changes, customer_mrr_changes, mrr_days, mrr_movements = add_revenue_tables(md)
    concurrency_changes, concurrency_buckets = add_concurrency_tables(md)
    usage_days, usage_months = add_usage_tables(md)
    online_levels = add_online_tables(md)
    support_tickets = add_ticket_tables(md)

    return ReadModel(
        schema=schema,
        metadata=md,
        runtime=runtime,
        customers=customers,
        partners=partners,
        subscribers=subscribers,
        invoices=invoices,
        invoice_movements=invoice_movements,
        customer_balances=customer_balances,
        aging_balances=aging_balances,
        aging_changes=aging_changes,
        sla_breaches=sla_breaches,
        sla_credits=sla_credits,
        sla_totals=sla_totals,
        dunning_executions=dunning_executions,
        sessions=sessions,
        session_hours=session_hours,
        session_days=session_days,
        nas_resets=nas_resets,
        subscription_mrr_changes=subscription_mrr_changes,
        customer_mrr_changes=customer_mrr_changes,
        mrr_days=mrr_days,
        mrr_movements=mrr_movements,
        concurrency_changes=concurrency_changes,
        concurrency_buckets=concurrency_buckets,
        usage_days=usage_days,
        usage_months=usage_months,
        online_levels=online_levels,
        support_tickets=support_tickets,
    )


live = build_tables(LIVE_SCHEMA)
metadata = live.metadata  # for Alembic
