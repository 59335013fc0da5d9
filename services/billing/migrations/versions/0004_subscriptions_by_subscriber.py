"""subscriptions by subscriber (any status)

A session batch looks up the subscriptions of its lines' usernames; with only the partial unique index on active
subscriptions, PostgreSQL read every subscription of the tenant per line (15 s for 2,000 session events at 100,000
subscriptions).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 21:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_subscriptions_subscriber", "subscriptions", ["tenant_id", "subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_subscriptions_subscriber", "subscriptions")
