"""Top users and online now kept ahead: per-subscriber monthly usage with one descending index per ranking, and
the online counter rows (per tenant and NAS, the concurrency level as of a moment), both filled from what the
read model already holds. The concurrency changes lose their (tenant, instant) index: every read is per tenant
and NAS (the primary key), and each session batch wrote to it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "readmodel"

FILL_MONTHS = """
INSERT INTO readmodel.usage_months
    (tenant_id, username, month, sessions, input_octets, output_octets, session_time_seconds)
SELECT tenant_id, username, date_trunc('month', day)::date, sum(sessions), sum(input_octets), sum(output_octets),
       sum(session_time_seconds)
FROM readmodel.usage_days GROUP BY 1, 2, 3
"""
FILL_LEVELS = """
INSERT INTO readmodel.online_levels (tenant_id, nas_id, level, as_of)
SELECT tenant_id, nas_id, coalesce(sum(change) FILTER (WHERE at <= now()), 0), now()
FROM readmodel.concurrency_changes GROUP BY 1, 2
"""


def upgrade() -> None:
    big = sa.BigInteger()
    op.create_table(
        "usage_months",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("sessions", big, nullable=False),
        sa.Column("input_octets", big, nullable=False),
        sa.Column("output_octets", big, nullable=False),
        sa.Column("session_time_seconds", big, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "username", "month", name=op.f("pk_usage_months")),
        schema=SCHEMA,
    )
    op.execute(FILL_MONTHS)
    op.execute(
        "CREATE INDEX ix_usage_months_bytes ON readmodel.usage_months "
        "(tenant_id, month, (input_octets + output_octets) DESC, username)"
    )
    op.execute(
        "CREATE INDEX ix_usage_months_duration ON readmodel.usage_months "
        "(tenant_id, month, session_time_seconds DESC, username)"
    )
    op.execute(
        "CREATE INDEX ix_usage_months_sessions ON readmodel.usage_months (tenant_id, month, sessions DESC, username)"
    )
    op.create_table(
        "online_levels",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("nas_id", sa.String(length=64), nullable=False),
        sa.Column("level", big, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "nas_id", name=op.f("pk_online_levels")),
        schema=SCHEMA,
    )
    op.execute(FILL_LEVELS)
    op.drop_index("ix_concurrency_changes_tenant_at", table_name="concurrency_changes", schema=SCHEMA)


def downgrade() -> None:
    op.create_index(
        "ix_concurrency_changes_tenant_at", "concurrency_changes", ["tenant_id", "at"], unique=False, schema=SCHEMA
    )
    op.drop_table("online_levels", schema=SCHEMA)
    op.drop_table("usage_months", schema=SCHEMA)
