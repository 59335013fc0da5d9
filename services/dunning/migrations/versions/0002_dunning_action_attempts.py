"""dunning action attempts: the intent of an external call, recorded before the call

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dunning_action_attempts",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("step_number", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("action_type", sa.String(length=30), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'done')", name=op.f("ck_dunning_action_attempts_state_known")),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["dunning_executions.id"],
            name=op.f("fk_dunning_action_attempts_execution_id_dunning_executions"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "execution_id", "step_number", "attempt", name=op.f("pk_dunning_action_attempts")
        ),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_dunning_action_attempts_tenant_id_idempotency_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("dunning_action_attempts")
