"""Concurrency's read models (in the read-model schema, rebuilt like every other; rules in domain/concurrency.py).

- `concurrency_changes`: per tenant, NAS (`ALL_NAS` = '': the whole tenant) and instant, the net change of the
  number of sessions online at that instant (+1 per start, -1 per end).
- `concurrency_buckets`: per tenant, NAS, grain (month, day, hour; UTC) and bucket, the net change over the
  bucket; hours also keep their peak above the level they began with, and when it was first reached. The level
  before any instant is the sum of a few buckets (whole months, days, hours) and the changes of its hour.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table

TS = DateTime(timezone=True)


def add_concurrency_tables(md: MetaData) -> tuple[Table, Table]:
    changes = Table(
        "concurrency_changes",
        md,
        Column("tenant_id", String(64), nullable=False),
        Column("nas_id", String(64), nullable=False),
        Column("at", TS, nullable=False),
        Column("change", Integer, nullable=False),
        PrimaryKeyConstraint("tenant_id", "nas_id", "at"),
        Index("ix_concurrency_changes_tenant_at", "tenant_id", "at"),
    )
    buckets = Table(
        "concurrency_buckets",
        md,
        Column("tenant_id", String(64), nullable=False),
        Column("grain", String(5), nullable=False),  # month | day | hour
        Column("nas_id", String(64), nullable=False),
        Column("bucket_start", TS, nullable=False),
        Column("net", Integer, nullable=False),
        Column("peak", Integer),  # hours only
        Column("peak_at", TS),  # hours only
        PrimaryKeyConstraint("tenant_id", "grain", "nas_id", "bucket_start"),
    )
    return changes, buckets
