"""Applying subscription events to the revenue read models, a batch at a time.

Every event becomes its own row of `subscription_mrr_changes` (idempotent on the event id). Then, for every
customer and currency the batch touched, `customer_mrr_changes` is derived again from all of that customer's
subscription rows (`domain.revenue.customer_timeline`): the result depends only on the set of events, never on
their order, so a late or replayed event converges to the same rows (tests/test_convergence.py)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import billing
from reporting.adapters.tables import ReadModel
from reporting.analytics.domain.revenue import SubscriptionChange, customer_timeline

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
        await session.execute(delete(c).where(tuple_(c.c.tenant_id, c.c.customer_id, c.c.currency).in_(chunk)))
        derived = [
            {"tenant_id": t, "customer_id": cu, "currency": cur, "effective_at": at, "mrr_minor": mrr,
             "active_subscriptions": active}
            for (t, cu, cur), subs in changes.items()
            for at, mrr, active in customer_timeline(subs)
        ]  # fmt: skip
        for j in range(0, len(derived), CHUNK):
            await session.execute(insert(c).values(derived[j : j + CHUNK]))
