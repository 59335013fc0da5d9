"""Session indexes for the one-statement history report; SLA totals kept incrementally

- Both session indexes end with session_key (rows sharing a timestamp page without a sort) and carry what the
  report reads (the username index: every column shown, so one subscriber's page reads the index alone).
- sla_totals: breaches and issued credit per currency and resolved flag, filled here from the breaches
  already in the read model and kept by the SLA consumer from now on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "readmodel"
SUMS = ["start_time", "input_octets", "output_octets", "session_time_seconds"]
SHOWN = [
    *SUMS, "acct_session_id", "nas_id", "nas_ip_address", "framed_ip_address", "framed_ipv6_prefix",
    "delegated_ipv6_prefix", "calling_station_id", "stop_time", "stop_source", "terminate_cause",
]  # fmt: skip


def upgrade() -> None:
    op.drop_index("ix_sessions_tenant_time", table_name="sessions", schema=SCHEMA)
    op.drop_index("ix_sessions_tenant_username_time", table_name="sessions", schema=SCHEMA)
    op.create_index("ix_sessions_tenant_time", "sessions", ["tenant_id", "time", "session_key"], schema=SCHEMA,
                    postgresql_include=SUMS)  # fmt: skip
    op.create_index("ix_sessions_tenant_username_time", "sessions", ["tenant_id", "username", "time", "session_key"],
                    schema=SCHEMA, postgresql_include=SHOWN)  # fmt: skip
    op.create_table(
        "sla_totals",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("breaches", sa.BigInteger(), nullable=False),
        sa.Column("credit_issued_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "currency", "resolved", name=op.f("pk_sla_totals")),
        schema=SCHEMA,
    )
    # What service_layer.sla counts for a breach: detected, with a currency.
    op.execute(
        f"""
        INSERT INTO {SCHEMA}.sla_totals (tenant_id, currency, resolved, breaches, credit_issued_minor)
        SELECT tenant_id, currency, resolved_at IS NOT NULL, count(*), coalesce(sum(credit_issued_minor), 0)
        FROM {SCHEMA}.sla_breaches
        WHERE detected_at IS NOT NULL AND currency IS NOT NULL
        GROUP BY 1, 2, 3
        """
    )


def downgrade() -> None:
    op.drop_table("sla_totals", schema=SCHEMA)
    op.drop_index("ix_sessions_tenant_username_time", table_name="sessions", schema=SCHEMA)
    op.drop_index("ix_sessions_tenant_time", table_name="sessions", schema=SCHEMA)
    op.create_index("ix_sessions_tenant_time", "sessions", ["tenant_id", "time"], schema=SCHEMA)
    op.create_index("ix_sessions_tenant_username_time", "sessions", ["tenant_id", "username", "time"], schema=SCHEMA)
