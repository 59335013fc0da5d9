"""Per-tenant report settings: user data in schema "settings" (the read-model rebuild never touches it).

- `priority_thresholds`: a tenant's blocked-customers priority rule (`domain/collections.PriorityThresholds`) as
  JSON; a tenant without a row has `DEFAULT_THRESHOLDS`.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bss_runtime.db import NAMING_CONVENTION
from reporting.domain.collections import DEFAULT_THRESHOLDS, PriorityRule, PriorityThresholds

SCHEMA = "settings"
metadata = MetaData(naming_convention=NAMING_CONVENTION, schema=SCHEMA)

priority_thresholds = Table(
    "priority_thresholds",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("thresholds", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200)),
    PrimaryKeyConstraint("tenant_id"),
)


def thresholds_to_json(thresholds: PriorityThresholds) -> dict[str, Any]:
    """Balances as strings: exact decimals through JSON."""
    return {
        level.value: [
            {
                "min_days": r.min_days,
                "balance_over": None if r.balance_over is None else str(r.balance_over),
            }
            for r in rules
        ]
        for level, rules in thresholds.levels()
    }


def thresholds_from_json(doc: dict[str, Any]) -> PriorityThresholds:
    def rules(level: str) -> tuple[PriorityRule, ...]:
        return tuple(
            PriorityRule(r["min_days"], None if r["balance_over"] is None else Decimal(r["balance_over"]))
            for r in doc[level]
        )

    return PriorityThresholds(critical=rules("critical"), high=rules("high"), medium=rules("medium"))


async def load_thresholds(conn: AsyncConnection, tenant: str) -> tuple[PriorityThresholds, datetime | None]:
    """The tenant's thresholds and when they were set (None: the defaults, never set)."""
    row = (
        await conn.execute(
            select(priority_thresholds.c.thresholds, priority_thresholds.c.updated_at).where(
                priority_thresholds.c.tenant_id == tenant
            )
        )
    ).first()
    if row is None:
        return DEFAULT_THRESHOLDS, None
    return thresholds_from_json(row.thresholds), row.updated_at


async def load_priority_thresholds(driver: Any, tenant: str) -> PriorityThresholds:
    """The tenant's thresholds (the defaults if never set), read on an asyncpg connection."""
    doc = await driver.fetchval(
        f"SELECT thresholds::text FROM {SCHEMA}.priority_thresholds WHERE tenant_id = $1",  # noqa: S608 - our schema
        tenant,
    )
    return DEFAULT_THRESHOLDS if doc is None else thresholds_from_json(json.loads(doc))


async def save_thresholds(
    conn: AsyncConnection, tenant: str, thresholds: PriorityThresholds, now: datetime, by: str
) -> None:
    doc = thresholds_to_json(thresholds)
    stmt = insert(priority_thresholds).values(tenant_id=tenant, thresholds=doc, updated_at=now, updated_by=by)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id"], set_={"thresholds": doc, "updated_at": now, "updated_by": by}
        )
    )
