"""The alerts' tables: user data in schema "alerts" (the read-model rebuild never touches it, like "bi").

- `alert_rules`: a tenant's rules (kind, JSON parameters, `for`, repeat interval, channels) and when each is
  next evaluated: evaluators claim due rules with `FOR UPDATE SKIP LOCKED`.
- `alerts`: one row per alert; at most one pending or firing alert per rule and subject (a partial unique index).
- `alert_silences`: no notifications for a rule (one subject, or all) until `ends_at`.
- `alert_notifications`: every notification owed (intent: its body and, for a webhook, its signature, fixed at
  the transition, so that it is sent as it was owed even if the rule changes or goes), claimed for a try by a
  lease, and its outcome.
- `nas_capacities`: the sessions a NAS is built for, for the concurrency rule.
- `alert_triggers`: per tenant and rule kind, a counter the consumer raises in the transaction that applies
  events that can move that kind's measure (sessions, subscriptions, invoices, SLA breaches); a rule whose
  `trigger_seq` (the counter when it was last evaluated) is behind it is due (service_layer/triggers.py).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from bss_runtime.db import NAMING_CONVENTION

SCHEMA = "alerts"
TS = DateTime(timezone=True)
ID = String(64)

metadata = MetaData(naming_convention=NAMING_CONVENTION, schema=SCHEMA)


def _tenant() -> Column[str]:
    return Column("tenant_id", ID, nullable=False)


rules = Table(
    "alert_rules",
    metadata,
    _tenant(),
    Column("rule_id", ID, nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("parameters", JSONB, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("for_seconds", Integer, nullable=False),
    Column("repeat_seconds", Integer, nullable=False),
    Column("interval_seconds", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("email_to", Text),
    Column("webhook_url", String(2000)),
    Column("webhook_secret", String(200)),
    Column("next_evaluation_at", TS, nullable=False),
    Column("last_evaluated_at", TS),
    Column("trigger_seq", BigInteger, nullable=False, server_default=text("0")),  # alert_triggers.seq then
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "rule_id"),
    Index("ix_alert_rules_due", "next_evaluation_at", postgresql_where=text("enabled")),
)

alerts = Table(
    "alerts",
    metadata,
    _tenant(),
    Column("alert_id", ID, nullable=False),
    Column("rule_id", ID, nullable=False),
    Column("subject", String(300), nullable=False),
    Column("state", String(10), nullable=False),
    Column("value", Float),
    Column("threshold", Float, nullable=False),
    Column("summary", Text, nullable=False),
    Column("started_at", TS, nullable=False),
    Column("fired_at", TS),
    Column("resolved_at", TS),
    Column("last_notified_at", TS),
    Column("acknowledged_at", TS),
    Column("acknowledged_by", String(200)),
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "alert_id"),
    Index(
        "ux_alerts_active",
        "tenant_id",
        "rule_id",
        "subject",
        unique=True,
        postgresql_where=text("state IN ('pending', 'firing')"),
    ),
    Index("ix_alerts_tenant_state", "tenant_id", "state", "started_at"),
)

silences = Table(
    "alert_silences",
    metadata,
    _tenant(),
    Column("silence_id", ID, nullable=False),
    Column("rule_id", ID, nullable=False),
    Column("subject", String(300)),
    Column("ends_at", TS, nullable=False),
    Column("comment", String(500)),
    Column("created_by", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "silence_id"),
    Index("ix_alert_silences_rule", "tenant_id", "rule_id", "ends_at"),
)

notifications = Table(
    "alert_notifications",
    metadata,
    _tenant(),
    Column("notification_id", ID, nullable=False),
    Column("alert_id", ID, nullable=False),
    Column("transition", String(10), nullable=False),  # firing | reminder | resolved
    Column("channel", String(10), nullable=False),  # email | webhook
    Column("target", Text, nullable=False),  # the addresses (comma-separated) or the webhook URL
    Column("body", Text, nullable=False),  # the exact JSON bytes sent (webhook) or rendered (email)
    Column("signature", String(64)),  # webhooks: HMAC-SHA256 of `body` with the rule's secret at the transition
    Column("status", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TS),
    Column("claimed_until", TS),
    Column("last_error", Text),
    Column("delivered_at", TS),
    Column("created_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "notification_id"),
    Index("ix_alert_notifications_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_alert_notifications_alert", "tenant_id", "alert_id"),
)

nas_capacities = Table(
    "nas_capacities",
    metadata,
    _tenant(),
    Column("nas_id", ID, nullable=False),
    Column("max_sessions", Integer, nullable=False),
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "nas_id"),
)

triggers = Table(
    "alert_triggers",
    metadata,
    _tenant(),
    Column("kind", String(40), nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "kind"),
)
