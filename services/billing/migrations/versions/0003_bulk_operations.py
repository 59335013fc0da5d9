"""bulk operations, usage resets

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bss_runtime.bulk import create_bulk_tables, drop_bulk_tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_bulk_tables()
    op.create_table(
        "usage_resets",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("counts_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("operation_id", sa.String(36)),
        sa.PrimaryKeyConstraint("tenant_id", "subscription_id", "period_start", "counts_from"),
    )


def downgrade() -> None:
    op.drop_table("usage_resets")
    drop_bulk_tables()
