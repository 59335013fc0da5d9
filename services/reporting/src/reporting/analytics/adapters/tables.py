"""Revenue analytics' tables.

Read models (in the read-model schema, rebuilt by `python -m reporting.rebuild` like every other):
- `subscription_mrr_changes`: one row per subscription event (started, plan changed, canceled, ended) with the
  subscription's MRR before and after it and when it took effect: the dated history nothing is recomputed from.
- `customer_mrr_changes`: per customer and currency, the customer's MRR and active subscriptions from each
  instant on (a row where either changes), derived from the customer's subscription rows whenever one of them
  arrives.
- `mrr_days`: per currency and UTC day, the net change of MRR, paying customers and active subscriptions that
  day (summed over customers): MRR as of day D is the sum of the days up to D, a few rows per day of history.
- `mrr_movements`: per interval (day, ISO week, month), period, currency and movement, the summed signed amount
  and the number of customers. Both rollups are kept by net change: when a customer's timeline is derived
  again, its old contribution is subtracted and its new one added, and rows that come to zero are removed, so
  they equal the sums over `customer_mrr_changes` whatever the order of the events.

Usage: `usage_days` and `usage_months` (see `add_usage_tables`).

Online now: `online_levels` (see `add_online_tables`).

Concurrency (rules in domain/concurrency.py):
- `concurrency_changes`: per tenant, NAS (`ALL_NAS` = '': the whole tenant) and instant, the net change of the
  number of sessions online at that instant (+1 per start, -1 per end).
- `concurrency_buckets`: per tenant, NAS, grain (month, day, hour; UTC) and bucket, the net change over the
  bucket; hours also keep their peak above the level they began with, and when it was first reached. The level
  before any instant is the sum of a few buckets (whole months, days, hours) and the changes of its hour.

User data (schema "analytics", which the rebuild never touches, like "bi"):
- `fx_rates`: the tenant's dated exchange rates, for converted totals next to the per-currency figures;
- `settings`: the tenant's gross margin for LTV.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import UUID

from bss_runtime.db import NAMING_CONVENTION

TS = DateTime(timezone=True)
ID = String(64)
SCHEMA = "analytics"
RATE = Numeric(24, 10)


def _tenant() -> Column[str]:
    return Column("tenant_id", String(64), nullable=False)


def add_revenue_tables(md: MetaData) -> tuple[Table, Table, Table, Table]:
    """The revenue read models, on the read model's metadata (so in its schema, live or twin)."""
    subscription_changes = Table(
        "subscription_mrr_changes",
        md,
        _tenant(),
        Column("subscription_id", ID, nullable=False),
        Column("effective_at", TS, nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("kind", String(20), nullable=False),  # started | plan_changed | canceled | ended
        Column("customer_id", ID, nullable=False),
        Column("plan_id", ID, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("mrr_before_minor", BigInteger, nullable=False),
        Column("mrr_after_minor", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "subscription_id", "effective_at", "event_id"),
        Index("ix_subscription_mrr_changes_customer", "tenant_id", "customer_id", "currency"),
    )
    customer_changes = Table(
        "customer_mrr_changes",
        md,
        _tenant(),
        Column("customer_id", ID, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("effective_at", TS, nullable=False),
        Column("mrr_minor", BigInteger, nullable=False),
        Column("active_subscriptions", Integer, nullable=False),
        PrimaryKeyConstraint("tenant_id", "customer_id", "currency", "effective_at"),
        Index("ix_customer_mrr_changes_tenant_effective", "tenant_id", "effective_at"),
    )
    mrr_days = Table(
        "mrr_days",
        md,
        _tenant(),
        Column("currency", String(3), nullable=False),
        Column("day", Date, nullable=False),
        Column("mrr_delta_minor", BigInteger, nullable=False),
        Column("paying_delta", BigInteger, nullable=False),
        Column("active_delta", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "currency", "day"),
    )
    mrr_movements = Table(
        "mrr_movements",
        md,
        _tenant(),
        Column("interval", String(5), nullable=False),
        Column("period_start", Date, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("kind", String(12), nullable=False),
        Column("amount_minor", BigInteger, nullable=False),
        Column("customers", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "interval", "period_start", "currency", "kind"),
    )
    return subscription_changes, customer_changes, mrr_days, mrr_movements


metadata = MetaData(naming_convention=NAMING_CONVENTION, schema=SCHEMA)

fx_rates = Table(
    "fx_rates",
    metadata,
    _tenant(),
    Column("base_currency", String(3), nullable=False),
    Column("quote_currency", String(3), nullable=False),
    Column("rate_date", Date, nullable=False),
    Column("rate", RATE, nullable=False),  # units of quote per one unit of base
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "base_currency", "quote_currency", "rate_date"),
)

settings = Table(
    "settings",
    metadata,
    _tenant(),
    Column("gross_margin", Numeric(7, 6), nullable=False),
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id"),
)


def add_concurrency_tables(md: MetaData) -> tuple[Table, Table]:
    changes = Table(
        "concurrency_changes",
        md,
        Column("tenant_id", String(64), nullable=False),
        Column("nas_id", String(64), nullable=False),
        Column("at", TS, nullable=False),
        Column("change", Integer, nullable=False),
        PrimaryKeyConstraint("tenant_id", "nas_id", "at"),  # every read is per tenant and NAS (ALL_NAS included)
    )
    buckets = Table(
        "concurrency_buckets",
        md,
        Column("tenant_id", String(64), nullable=False),
        Column("grain", String(5), nullable=False),  # month | day | hour
        Column("nas_id", String(64), nullable=False),
        Column("bucket_start", TS, nullable=False),
        Column("net", Integer, nullable=False),
        Column("peak", Integer),  # hours only
        Column("peak_at", TS),  # hours only
        PrimaryKeyConstraint("tenant_id", "grain", "nas_id", "bucket_start"),
    )
    return changes, buckets


def add_usage_tables(md: MetaData) -> tuple[Table, Table]:
    """`usage_days`: per tenant, username and UTC day, the sessions whose latest record (stop, else last update)
    falls that day, with their bytes and seconds: kept by net change as the sessions read model changes, like
    `session_days` but per subscriber, for one subscriber's usage and the exact totals of top users.

    `usage_months`: the same summed per UTC calendar month, kept by the same net changes, with an index per
    ranking (bytes, duration, sessions) in descending order: the sorted lists top users reads first
    (`adapters/usage.top`, a threshold algorithm)."""
    days = Table(
        "usage_days",
        md,
        Column("tenant_id", String(64), nullable=False),
        Column("username", String(253), nullable=False),
        Column("day", Date, nullable=False),
        Column("sessions", BigInteger, nullable=False),
        Column("input_octets", BigInteger, nullable=False),
        Column("output_octets", BigInteger, nullable=False),
        Column("session_time_seconds", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "username", "day"),
        Index("ix_usage_days_tenant_day", "tenant_id", "day"),
    )
    months = Table(
        "usage_months",
        md,
        Column("tenant_id", String(64), nullable=False),
        Column("username", String(253), nullable=False),
        Column("month", Date, nullable=False),  # its first day
        Column("sessions", BigInteger, nullable=False),
        Column("input_octets", BigInteger, nullable=False),
        Column("output_octets", BigInteger, nullable=False),
        Column("session_time_seconds", BigInteger, nullable=False),
        PrimaryKeyConstraint("tenant_id", "username", "month"),
    )
    c = months.c
    Index(
        "ix_usage_months_bytes",
        c.tenant_id,
        c.month,
        (c.input_octets + c.output_octets).self_group().desc(),
        c.username,
    )
    Index("ix_usage_months_duration", c.tenant_id, c.month, c.session_time_seconds.desc(), c.username)
    Index("ix_usage_months_sessions", c.tenant_id, c.month, c.sessions.desc(), c.username)
    return days, months


def add_online_tables(md: MetaData) -> Table:
    """`online_levels`: per tenant and NAS (`ALL_NAS`: the tenant), the number of sessions online at `as_of`,
    i.e. the sum of every concurrency change at or before it. The session apply adds its changes at or before
    `as_of` in the same transaction; a worker moves `as_of` on to now, adding the changes in between
    (analytics/service_layer/online.py). Online now is this row plus the few changes between `as_of` and now.
    Not compared by a rebuild: `as_of` is when it was last moved on."""
    return Table(
        "online_levels",
        md,
        Column("tenant_id", String(64), nullable=False),
        Column("nas_id", String(64), nullable=False),
        Column("level", BigInteger, nullable=False),
        Column("as_of", TS, nullable=False),
        PrimaryKeyConstraint("tenant_id", "nas_id"),
    )
