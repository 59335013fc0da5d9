"""subscription revenue events and plan changes

Existing subscriptions keep NULL event markers: billing's history pass (a scheduler loop, also
`python -m billing.backfill`) writes their SubscriptionStarted (and Canceled / Ended, as their state says)
to the outbox once, setting the markers in the same transaction.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY_MISSING = (
    "started_event_at IS NULL OR (end_date IS NOT NULL AND canceled_event_at IS NULL)"
    " OR (status = 'ended' AND ended_event_at IS NULL)"
)


def upgrade() -> None:
    for column in ("started_event_at", "canceled_event_at", "ended_event_at"):
        op.add_column("subscriptions", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_subscriptions_history_missing",
        "subscriptions",
        ["tenant_id", "id"],
        unique=False,
        postgresql_where=sa.text(HISTORY_MISSING),
    )
    op.create_table(
        "plan_changes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("from_plan_id", sa.String(length=36), nullable=False),
        sa.Column("to_plan_id", sa.String(length=36), nullable=False),
        sa.Column("timing", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proration_period_start", sa.Date(), nullable=True),
        sa.Column("proration_credit_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("proration_charge_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("proration_rule", sa.Text(), nullable=True),
        sa.Column("invoice_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("timing IN ('now', 'period_end')", name=op.f("ck_plan_changes_timing")),
        sa.CheckConstraint("status IN ('scheduled', 'applied', 'superseded')", name=op.f("ck_plan_changes_status")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_plan_changes_subscription_id_subscriptions")
        ),
        sa.ForeignKeyConstraint(["from_plan_id"], ["plans.id"], name=op.f("fk_plan_changes_from_plan_id_plans")),
        sa.ForeignKeyConstraint(["to_plan_id"], ["plans.id"], name=op.f("fk_plan_changes_to_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_changes")),
    )
    op.create_index(
        "ix_plan_changes_subscription", "plan_changes", ["tenant_id", "subscription_id", "effective_at"], unique=False
    )
    op.create_index(
        "ix_plan_changes_due",
        "plan_changes",
        ["effective_at"],
        unique=False,
        postgresql_where=sa.text("status = 'scheduled'"),
    )


def downgrade() -> None:
    op.drop_index("ix_plan_changes_due", table_name="plan_changes", postgresql_where=sa.text("status = 'scheduled'"))
    op.drop_index("ix_plan_changes_subscription", table_name="plan_changes")
    op.drop_table("plan_changes")
    op.drop_index(
        "ix_subscriptions_history_missing", table_name="subscriptions", postgresql_where=sa.text(HISTORY_MISSING)
    )
    for column in ("ended_event_at", "canceled_event_at", "started_event_at"):
        op.drop_column("subscriptions", column)
