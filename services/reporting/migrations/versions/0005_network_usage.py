"""Network and usage analytics: concurrency's level changes per instant and month/day/hour buckets, and the
per-subscriber daily usage (read models), both filled from the sessions already in the read model (concurrency by
the rules of reporting/analytics/domain/concurrency.py, stale timeout 1 hour); customers' time zone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "readmodel"

# +1 at each session's start, -1 at its end (its stop, else its last record plus the stale timeout), for its NAS
# and for the tenant (nas_id ''), summed per instant.
FILL_CHANGES = """
INSERT INTO {s}.concurrency_changes (tenant_id, nas_id, at, change)
SELECT tenant_id, nas_id, at, sum(change)::int
FROM (
    SELECT s.tenant_id, n.nas_id, x.at, x.change
    FROM {s}.sessions s
    CROSS JOIN LATERAL (VALUES (s.nas_id), ('')) AS n(nas_id)
    CROSS JOIN LATERAL (VALUES (s.start_time, 1),
                               (coalesce(s.stop_time, s.event_time + interval '1 hour'), -1)) AS x(at, change)
    WHERE coalesce(s.stop_time, s.event_time + interval '1 hour') > s.start_time
) AS d
GROUP BY 1, 2, 3
HAVING sum(change) <> 0
"""
FILL_NETS = """
INSERT INTO {s}.concurrency_buckets (tenant_id, grain, nas_id, bucket_start, net)
SELECT tenant_id, '{grain}', nas_id, date_trunc('{grain}', at, 'UTC'), sum(change)::int
FROM {s}.concurrency_changes GROUP BY 1, 2, 3, 4 HAVING sum(change) <> 0
"""
# Each hour's net and peak above the level it began with: the level after each instant of the hour, and the level it
# began with (0) unless a change falls on the hour's start; the highest, first reached.
FILL_HOURS = """
WITH c AS (
    SELECT tenant_id, nas_id, date_trunc('hour', at, 'UTC') AS h, at, change,
           sum(change) OVER (PARTITION BY tenant_id, nas_id, date_trunc('hour', at, 'UTC') ORDER BY at) AS lvl
    FROM {s}.concurrency_changes
), nets AS (
    SELECT tenant_id, nas_id, h, sum(change)::int AS net, min(at) AS first_at FROM c GROUP BY 1, 2, 3
), candidates AS (
    SELECT tenant_id, nas_id, h, at, lvl FROM c
    UNION ALL
    SELECT tenant_id, nas_id, h, h, 0 FROM nets WHERE first_at > h
)
INSERT INTO {s}.concurrency_buckets (tenant_id, grain, nas_id, bucket_start, net, peak, peak_at)
SELECT DISTINCT ON (k.tenant_id, k.nas_id, k.h) k.tenant_id, 'hour', k.nas_id, k.h, n.net, k.lvl, k.at
FROM candidates k JOIN nets n USING (tenant_id, nas_id, h)
ORDER BY k.tenant_id, k.nas_id, k.h, k.lvl DESC, k.at
"""


FILL_USAGE = """
INSERT INTO {s}.usage_days
    (tenant_id, username, day, sessions, input_octets, output_octets, session_time_seconds)
SELECT tenant_id, username, (time AT TIME ZONE 'UTC')::date, count(*), sum(input_octets), sum(output_octets),
       sum(session_time_seconds)
FROM {s}.sessions GROUP BY 1, 2, 3
"""


def fill(execute: Callable[[str], object], schema: str = SCHEMA) -> None:
    """Fill the three tables from the sessions of `schema` (`execute(sql)` runs a statement)."""
    execute(FILL_CHANGES.format(s=schema))
    for grain in ("month", "day"):
        execute(FILL_NETS.format(s=schema, grain=grain))
    execute(FILL_HOURS.format(s=schema))
    execute(FILL_USAGE.format(s=schema))


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "concurrency_changes",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("nas_id", sa.String(length=64), nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("change", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "nas_id", "at", name=op.f("pk_concurrency_changes")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_concurrency_changes_tenant_at", "concurrency_changes", ["tenant_id", "at"], unique=False, schema=SCHEMA
    )
    op.create_table(
        "concurrency_buckets",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("nas_id", sa.String(length=64), nullable=False),
        sa.Column("bucket_start", ts, nullable=False),
        sa.Column("net", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=True),
        sa.Column("peak_at", ts, nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "grain", "nas_id", "bucket_start", name=op.f("pk_concurrency_buckets")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "usage_days",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("session_time_seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "username", "day", name=op.f("pk_usage_days")),
        schema=SCHEMA,
    )
    op.create_index("ix_usage_days_tenant_day", "usage_days", ["tenant_id", "day"], unique=False, schema=SCHEMA)
    op.add_column(
        "customers",
        sa.Column("timezone", sa.String(length=64), nullable=False, server_default="UTC"),
        schema=SCHEMA,
    )
    fill(op.execute)


def downgrade() -> None:
    op.drop_column("customers", "timezone", schema=SCHEMA)
    op.drop_table("usage_days", schema=SCHEMA)
    op.drop_table("concurrency_buckets", schema=SCHEMA)
    op.drop_table("concurrency_changes", schema=SCHEMA)
