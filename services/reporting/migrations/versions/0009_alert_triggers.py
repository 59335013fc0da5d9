"""Alert rules evaluated on the relevant events: a trigger counter per tenant and rule kind, raised by the
consumer with what it applies, and the counter each rule was last evaluated at.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "alerts"


def upgrade() -> None:
    op.create_table(
        "alert_triggers",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", name=op.f("pk_alert_triggers")),
        schema=SCHEMA,
    )
    op.add_column(
        "alert_rules", sa.Column("trigger_seq", sa.BigInteger(), nullable=False, server_default="0"), schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_column("alert_rules", "trigger_seq", schema=SCHEMA)
    op.drop_table("alert_triggers", schema=SCHEMA)
