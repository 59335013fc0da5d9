"""Revenue analytics: dated MRR changes per subscription and per customer, their daily and per-period rollups
(read models), FX rates and the
tenant's gross margin (schema "analytics", user data the rebuild never touches).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "readmodel"
ANALYTICS = "analytics"


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(length=64), nullable=False)


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "subscription_mrr_changes",
        _tenant(),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("effective_at", ts, nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("mrr_before_minor", sa.BigInteger(), nullable=False),
        sa.Column("mrr_after_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "subscription_id", "effective_at", "event_id", name=op.f("pk_subscription_mrr_changes")
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_subscription_mrr_changes_customer", "subscription_mrr_changes",
                    ["tenant_id", "customer_id", "currency"], schema=SCHEMA)  # fmt: skip
    op.create_table(
        "customer_mrr_changes",
        _tenant(),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_at", ts, nullable=False),
        sa.Column("mrr_minor", sa.BigInteger(), nullable=False),
        sa.Column("active_subscriptions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "customer_id", "currency", "effective_at", name=op.f("pk_customer_mrr_changes")
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_customer_mrr_changes_tenant_effective", "customer_mrr_changes",
                    ["tenant_id", "effective_at"], schema=SCHEMA)  # fmt: skip
    op.create_table(
        "mrr_days",
        _tenant(),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mrr_delta_minor", sa.BigInteger(), nullable=False),
        sa.Column("paying_delta", sa.BigInteger(), nullable=False),
        sa.Column("active_delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "currency", "day", name=op.f("pk_mrr_days")),
        schema=SCHEMA,
    )
    op.create_table(
        "mrr_movements",
        _tenant(),
        sa.Column("interval", sa.String(length=5), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "interval", "period_start", "currency", "kind", name=op.f("pk_mrr_movements")
        ),
        schema=SCHEMA,
    )
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {ANALYTICS}")
    op.create_table(
        "fx_rates",
        _tenant(),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("quote_currency", sa.String(length=3), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(24, 10), nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "base_currency", "quote_currency", "rate_date", name=op.f("pk_fx_rates")),
        schema=ANALYTICS,
    )
    op.create_table(
        "settings",
        _tenant(),
        sa.Column("gross_margin", sa.Numeric(7, 6), nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_settings")),
        schema=ANALYTICS,
    )


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {ANALYTICS} CASCADE")
    op.drop_table("mrr_movements", schema=SCHEMA)
    op.drop_table("mrr_days", schema=SCHEMA)
    op.drop_table("customer_mrr_changes", schema=SCHEMA)
    op.drop_table("subscription_mrr_changes", schema=SCHEMA)
