"""Applying subscription events to the revenue read models, a batch at a time.

Every event becomes its own row of `subscription_mrr_changes` (idempotent on the event id). Then, for every
customer and currency the batch touched, `customer_mrr_changes` is derived again from all of that customer's
subscription rows (`domain.revenue.customer_timeline`): the result depends only on the set of events, never on
their order, so a late or replayed event converges to the same rows (tests/test_convergence.py). The daily and
per-period rollups (`mrr_days`, `mrr_movements`) move by each re-derived customer's new contribution minus its
old one."""

# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import billing
from reporting.adapters.tables import ReadModel
from reporting.analytics.domain.revenue import Rollup, SubscriptionChange, customer_timeline

SubscriptionEvent = (
    billing.SubscriptionStarted
    | billing.SubscriptionPlanChanged
    | billing.SubscriptionCanceled
    | billing.SubscriptionEnded
)
KINDS: dict[type[SubscriptionEvent], str] = {
    billing.SubscriptionStarted: "started",
    billing.SubscriptionPlanChanged: "plan_changed",
    billing.SubscriptionCanceled: "canceled",
    billing.SubscriptionEnded: "ended",
}


async def subscription_events(
    session: AsyncSession, rm: ReadModel, events: Sequence[tuple[str, UUID, SubscriptionEvent]]
) -> None:
    """Record the batch's events, derive the touched customers' timelines again and move the rollups by the
    difference: a fixed number of statements per batch (arrays bound as parameters, `unnest` in SQL)."""
    schema = rm.schema
    await session.execute(
        text(f"""
            INSERT INTO "{schema}".subscription_mrr_changes (tenant_id, subscription_id, effective_at, event_id, kind,
                customer_id, plan_id, currency, mrr_before_minor, mrr_after_minor)
            SELECT * FROM unnest(CAST(:t AS text[]), CAST(:s AS text[]), CAST(:at AS timestamptz[]),
                CAST(:id AS uuid[]), CAST(:k AS text[]), CAST(:c AS text[]), CAST(:p AS text[]), CAST(:cur AS text[]),
                CAST(:b AS bigint[]), CAST(:a AS bigint[]))
            ON CONFLICT DO NOTHING
        """),
        {
            "t": [tenant for tenant, _, _ in events],
            "s": [e.subscription_id for _, _, e in events],
            "at": [e.effective_at for _, _, e in events],
            "id": [event_id for _, event_id, _ in events],
            "k": [KINDS[type(e)] for _, _, e in events],
            "c": [e.customer_id for _, _, e in events],
            "p": [e.plan_id for _, _, e in events],
            "cur": [e.currency for _, _, e in events],
            "b": [e.mrr_before_minor for _, _, e in events],
            "a": [e.mrr_after_minor for _, _, e in events],
        },
    )
    keys = sorted({(tenant, e.customer_id, e.currency) for tenant, _, e in events})
    bound = {"kt": [k[0] for k in keys], "kc": [k[1] for k in keys], "kcur": [k[2] for k in keys]}
    touched = """unnest(CAST(:kt AS text[]), CAST(:kc AS text[]), CAST(:kcur AS text[])) AS k(t, c, cur)"""
    found = await session.execute(
        text(f"""
            SELECT s.tenant_id, s.customer_id, s.currency, s.subscription_id, s.effective_at, s.kind, s.event_id,
                   s.mrr_after_minor
            FROM {touched} JOIN "{schema}".subscription_mrr_changes s
              ON s.tenant_id = k.t AND s.customer_id = k.c AND s.currency = k.cur
        """),
        bound,
    )
    changes: dict[tuple[str, str, str], list[SubscriptionChange]] = {k: [] for k in keys}
    for tenant, customer, currency, sub, at, kind, event_id, mrr in found:
        changes[(tenant, customer, currency)].append(SubscriptionChange(sub, at, kind, str(event_id), mrr))
    old: dict[tuple[str, str, str], list[tuple[datetime, int, int]]] = {k: [] for k in keys}
    previous = await session.execute(
        text(f"""
            SELECT m.tenant_id, m.customer_id, m.currency, m.effective_at, m.mrr_minor, m.active_subscriptions
            FROM {touched} JOIN "{schema}".customer_mrr_changes m
              ON m.tenant_id = k.t AND m.customer_id = k.c AND m.currency = k.cur
            ORDER BY m.effective_at
        """),
        bound,
    )
    for tenant, customer, currency, at, mrr, active in previous:
        old[(tenant, customer, currency)].append((at, mrr, active))
    timelines = {k: customer_timeline(subs) for k, subs in changes.items()}
    changed = [k for k in keys if timelines[k] != old[k]]
    if not changed:
        return
    rollup = Rollup()
    rows: list[tuple[str, str, str, datetime, int, int]] = []
    for k in changed:
        rollup.add(k[0], k[2], old[k], -1)
        rollup.add(k[0], k[2], timelines[k], +1)
        rows.extend((*k, at, mrr, active) for at, mrr, active in timelines[k])
    await session.execute(
        text(f"""
            DELETE FROM "{schema}".customer_mrr_changes m USING {touched}
            WHERE m.tenant_id = k.t AND m.customer_id = k.c AND m.currency = k.cur
        """),
        {"kt": [k[0] for k in changed], "kc": [k[1] for k in changed], "kcur": [k[2] for k in changed]},
    )
    await session.execute(
        text(f"""
            INSERT INTO "{schema}".customer_mrr_changes
                (tenant_id, customer_id, currency, effective_at, mrr_minor, active_subscriptions)
            SELECT * FROM unnest(CAST(:t AS text[]), CAST(:c AS text[]), CAST(:cur AS text[]),
                CAST(:at AS timestamptz[]), CAST(:m AS bigint[]), CAST(:a AS integer[]))
        """),
        {name: [r[i] for r in rows] for i, name in enumerate(("t", "c", "cur", "at", "m", "a"))},
    )
    await _apply_rollup(session, schema, rollup)


async def _apply_rollup(session: AsyncSession, schema: str, rollup: Rollup) -> None:
    """Add the net changes to the rollups (one upsert each), then drop the rows that came to zero."""
    days = [(*k, *v) for k, v in sorted(rollup.days.items()) if v != [0, 0, 0]]
    if days:
        await session.execute(
            text(f"""
                INSERT INTO "{schema}".mrr_days AS d (tenant_id, currency, day, mrr_delta_minor, paying_delta,
                    active_delta)
                SELECT * FROM unnest(CAST(:t AS text[]), CAST(:cur AS text[]), CAST(:d AS date[]),
                    CAST(:m AS bigint[]), CAST(:p AS bigint[]), CAST(:a AS bigint[]))
                ON CONFLICT (tenant_id, currency, day) DO UPDATE SET
                    mrr_delta_minor = d.mrr_delta_minor + excluded.mrr_delta_minor,
                    paying_delta = d.paying_delta + excluded.paying_delta,
                    active_delta = d.active_delta + excluded.active_delta
            """),
            {name: [r[i] for r in days] for i, name in enumerate(("t", "cur", "d", "m", "p", "a"))},
        )
        await session.execute(
            text(f"""
                DELETE FROM "{schema}".mrr_days d
                USING unnest(CAST(:t AS text[]), CAST(:cur AS text[]), CAST(:d AS date[])) AS k(t, cur, d)
                WHERE d.tenant_id = k.t AND d.currency = k.cur AND d.day = k.d
                  AND d.mrr_delta_minor = 0 AND d.paying_delta = 0 AND d.active_delta = 0
            """),
            {name: [r[i] for r in days] for i, name in enumerate(("t", "cur", "d"))},
        )
    moves = [(*k, *v) for k, v in sorted(rollup.moves.items()) if v != [0, 0]]
    if moves:
        await session.execute(
            text(f"""
                INSERT INTO "{schema}".mrr_movements AS m (tenant_id, currency, interval, period_start, kind,
                    amount_minor, customers)
                SELECT * FROM unnest(CAST(:t AS text[]), CAST(:cur AS text[]), CAST(:i AS text[]),
                    CAST(:s AS date[]), CAST(:k AS text[]), CAST(:a AS bigint[]), CAST(:n AS bigint[]))
                ON CONFLICT (tenant_id, interval, period_start, currency, kind) DO UPDATE SET
                    amount_minor = m.amount_minor + excluded.amount_minor,
                    customers = m.customers + excluded.customers
            """),
            {name: [r[i] for r in moves] for i, name in enumerate(("t", "cur", "i", "s", "k", "a", "n"))},
        )
        await session.execute(
            text(f"""
                DELETE FROM "{schema}".mrr_movements m
                USING unnest(CAST(:t AS text[]), CAST(:cur AS text[]), CAST(:i AS text[]), CAST(:s AS date[]),
                    CAST(:k AS text[])) AS x(t, cur, i, s, k)
                WHERE m.tenant_id = x.t AND m.currency = x.cur AND m.interval = x.i AND m.period_start = x.s
                  AND m.kind = x.k AND m.amount_minor = 0 AND m.customers = 0
            """),
            {name: [r[i] for r in moves] for i, name in enumerate(("t", "cur", "i", "s", "k"))},
        )
