"""Applying subscription events to the revenue read models, a batch at a time.

Every event becomes its own row of `subscription_mrr_changes` (idempotent on the event id). Then, for every
customer and currency the batch touched, `customer_mrr_changes` is derived again from all of that customer's
subscription rows (`domain.revenue.customer_timeline`): the result depends only on the set of events, never on
their order, so a late or replayed event converges to the same rows (tests/test_convergence.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import billing
from reporting.adapters.tables import ReadModel
from reporting.analytics.domain.revenue import Rollup, SubscriptionChange, customer_timeline

CHUNK = 2000  # rows per statement: well under PostgreSQL's 32767 bind parameters

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
    s, c = rm.subscription_mrr_changes, rm.customer_mrr_changes
    rows = [
        {
            "tenant_id": tenant,
            "subscription_id": e.subscription_id,
            "effective_at": e.effective_at,
            "event_id": event_id,
            "kind": KINDS[type(e)],
            "customer_id": e.customer_id,
            "plan_id": e.plan_id,
            "currency": e.currency,
            "mrr_before_minor": e.mrr_before_minor,
            "mrr_after_minor": e.mrr_after_minor,
        }
        for tenant, event_id, e in events
    ]
    for i in range(0, len(rows), CHUNK):
        await session.execute(pg_insert(s).values(rows[i : i + CHUNK]).on_conflict_do_nothing())
    keys = sorted({(tenant, e.customer_id, e.currency) for tenant, _, e in events})
    rollup = Rollup()
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        key = tuple_(s.c.tenant_id, s.c.customer_id, s.c.currency)
        found = await session.execute(
            select(s.c.tenant_id, s.c.customer_id, s.c.currency, s.c.subscription_id, s.c.effective_at, s.c.kind,
                   s.c.event_id, s.c.mrr_after_minor).where(key.in_(chunk))
        )  # fmt: skip
        changes: dict[tuple[str, str, str], list[SubscriptionChange]] = {k: [] for k in chunk}
        for tenant, customer, currency, sub, at, kind, event_id, mrr in found:
            changes[(tenant, customer, currency)].append(SubscriptionChange(sub, at, kind, str(event_id), mrr))
        ckey = tuple_(c.c.tenant_id, c.c.customer_id, c.c.currency)
        old: dict[tuple[str, str, str], list[tuple[datetime, int, int]]] = {k: [] for k in chunk}
        previous = await session.execute(
            select(c.c.tenant_id, c.c.customer_id, c.c.currency, c.c.effective_at, c.c.mrr_minor,
                   c.c.active_subscriptions).where(ckey.in_(chunk)).order_by(c.c.effective_at)
        )  # fmt: skip
        for tenant, customer, currency, at, mrr, active in previous:
            old[(tenant, customer, currency)].append((at, mrr, active))
        timelines = {k: customer_timeline(subs) for k, subs in changes.items()}
        changed = [k for k in chunk if timelines[k] != old[k]]
        if not changed:
            continue
        await session.execute(delete(c).where(ckey.in_(changed)))
        derived: list[dict[str, Any]] = []
        for k in changed:
            rollup.add(k[0], k[2], old[k], -1)
            rollup.add(k[0], k[2], timelines[k], +1)
            derived.extend(
                {"tenant_id": k[0], "customer_id": k[1], "currency": k[2], "effective_at": at, "mrr_minor": mrr,
                 "active_subscriptions": active}
                for at, mrr, active in timelines[k]
            )  # fmt: skip
        for j in range(0, len(derived), CHUNK):
            await session.execute(insert(c).values(derived[j : j + CHUNK]))
    await _apply_rollup(session, rm, rollup)


async def _apply_rollup(session: AsyncSession, rm: ReadModel, rollup: Rollup) -> None:
    """Add the net changes to the rollups (one upsert per chunk), then drop the rows that came to zero."""
    d, m = rm.mrr_days, rm.mrr_movements
    days = [
        {"tenant_id": t, "currency": cur, "day": day, "mrr_delta_minor": v[0], "paying_delta": v[1],
         "active_delta": v[2]}
        for (t, cur, day), v in sorted(rollup.days.items())
        if v != [0, 0, 0]
    ]  # fmt: skip
    for i in range(0, len(days), CHUNK):
        stmt = pg_insert(d).values(days[i : i + CHUNK])
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[d.c.tenant_id, d.c.currency, d.c.day],
                set_={
                    "mrr_delta_minor": d.c.mrr_delta_minor + stmt.excluded.mrr_delta_minor,
                    "paying_delta": d.c.paying_delta + stmt.excluded.paying_delta,
                    "active_delta": d.c.active_delta + stmt.excluded.active_delta,
                },
            )
        )
        touched = [(r["tenant_id"], r["currency"], r["day"]) for r in days[i : i + CHUNK]]
        await session.execute(
            delete(d).where(
                tuple_(d.c.tenant_id, d.c.currency, d.c.day).in_(touched),
                d.c.mrr_delta_minor == 0, d.c.paying_delta == 0, d.c.active_delta == 0,
            )
        )  # fmt: skip
    moves = [
        {"tenant_id": t, "currency": cur, "interval": interval, "period_start": start, "kind": kind,
         "amount_minor": v[0], "customers": v[1]}
        for (t, cur, interval, start, kind), v in sorted(rollup.moves.items())
        if v != [0, 0]
    ]  # fmt: skip
    for i in range(0, len(moves), CHUNK):
        stmt = pg_insert(m).values(moves[i : i + CHUNK])
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[m.c.tenant_id, m.c.interval, m.c.period_start, m.c.currency, m.c.kind],
                set_={
                    "amount_minor": m.c.amount_minor + stmt.excluded.amount_minor,
                    "customers": m.c.customers + stmt.excluded.customers,
                },
            )
        )
        touched_moves = [(r["tenant_id"], r["interval"], r["period_start"], r["currency"], r["kind"])
                         for r in moves[i : i + CHUNK]]  # fmt: skip
        await session.execute(
            delete(m).where(
                tuple_(m.c.tenant_id, m.c.interval, m.c.period_start, m.c.currency, m.c.kind).in_(touched_moves),
                m.c.amount_minor == 0, m.c.customers == 0,
            )
        )  # fmt: skip
