"""Support tickets read model (from bss.support.ticket): one row per ticket, for GET /analytics/support/sla.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "readmodel"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "support_tickets",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("ticket_type", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("subscriber_ids", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("sla_breach_id", sa.String(length=64), nullable=True),
        sa.Column("opened_at", ts, nullable=False),
        sa.Column("first_response_at", ts, nullable=True),
        sa.Column("response_seconds", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", ts, nullable=True),
        sa.Column("resolution_seconds", sa.BigInteger(), nullable=True),
        sa.Column("response_breached", sa.Boolean(), nullable=False),
        sa.Column("resolution_breached", sa.Boolean(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "ticket_id", name=op.f("pk_support_tickets")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_support_tickets_tenant_opened", "support_tickets", ["tenant_id", "opened_at"], unique=False, schema=SCHEMA
    )
    op.create_index(
        "ix_support_tickets_tenant_resolved", "support_tickets", ["tenant_id", "resolved_at"], unique=False,
        schema=SCHEMA,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("support_tickets", schema=SCHEMA)
