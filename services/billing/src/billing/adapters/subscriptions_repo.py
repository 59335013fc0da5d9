"""Queries on plans, subscriptions, usage samples and closed usage periods; every one filtered by tenant_id."""

# ruff: noqa: S608 - SQL is composed only with our own table names; values are bound parameters

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.repository import rows_of_pairs
from billing.adapters.tables import (
    HISTORY_MISSING,
    plan_changes,
    plans,
    subscribers,
    subscriptions,
    usage_periods,
    usage_resets,
    usage_samples,
)
from billing.domain.usage import Sample

# --- plans ------------------------------------------------------------------------------------------------------


async def insert_plan(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(plans).values(**values).returning(*plans.c))).one()


async def get_plan(session: AsyncSession, tenant_id: str, plan_id: str) -> Row[Any] | None:
    stmt = select(plans).where(plans.c.tenant_id == tenant_id, plans.c.id == plan_id)
    return (await session.execute(stmt)).one_or_none()


async def plan_by_id_or_code(session: AsyncSession, tenant_id: str, reference: str) -> Row[Any] | None:
    stmt = (
        select(plans)
        .where(plans.c.tenant_id == tenant_id, (plans.c.id == reference) | (plans.c.code == reference))
        .order_by((plans.c.id == reference).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).one_or_none()


async def list_plans(session: AsyncSession, tenant_id: str, *, limit: int, offset: int) -> Sequence[Row[Any]]:
    """A page of the tenant's plans, by code."""
    stmt = select(plans).where(plans.c.tenant_id == tenant_id).order_by(plans.c.code, plans.c.id)
    return (await session.execute(stmt.limit(limit).offset(offset))).all()


async def set_plan_active(session: AsyncSession, tenant_id: str, plan_id: str, active: bool) -> Row[Any] | None:
    stmt = (
        update(plans)
        .where(plans.c.tenant_id == tenant_id, plans.c.id == plan_id)
        .values(active=active)
        .returning(*plans.c)
    )
    return (await session.execute(stmt)).one_or_none()


# --- subscriptions ----------------------------------------------------------------------------------------------


async def insert_subscription(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(subscriptions).values(**values).returning(*subscriptions.c))).one()


async def plans_of_references(session: AsyncSession, references: Sequence[tuple[str, str]]) -> list[Row[Any]]:
    """The plans these (tenant, plan id or code) pairs name, each matched by id or by code (as
    `plan_by_id_or_code`, which prefers the id: the caller resolves)."""
    if not references:
        return []
    rows = await session.execute(
        text(
            f"SELECT DISTINCT p.* FROM unnest(CAST(:tenants AS text[]), CAST(:refs AS text[])) AS r(tenant_id, ref)"
            f" JOIN {plans.name} p ON p.tenant_id = r.tenant_id AND (p.id = r.ref OR p.code = r.ref)"
        ),
        {"tenants": [t for t, _ in references], "refs": [r for _, r in references]},
    )
    return list(rows.all())


async def subscribers_with_active_subscription(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (tenant, subscriber) pairs have an active subscription."""
    columns = "t.tenant_id, t.subscriber_id"
    rows = await rows_of_pairs(session, subscriptions.name, "subscriber_id", columns, keys, " AND t.status = 'active'")
    return {(t, i) for t, i in rows}


async def insert_subscriptions(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """New subscriptions (`insert_subscription`'s values, with `started_event_at`) with one statement."""
    if not rows:
        return
    await session.execute(
        text(
            f"INSERT INTO {subscriptions.name} (id, tenant_id, subscriber_id, customer_id, plan_id, currency,"
            " start_date, status, next_cycle, next_close_at, started_event_at)"
            " SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:tenants AS text[]), CAST(:subscribers AS text[]),"
            " CAST(:customers AS text[]), CAST(:plans AS text[]), CAST(:currencies AS text[]),"
            " CAST(:starts AS date[]), CAST(:statuses AS text[]), CAST(:cycles AS integer[]),"
            " CAST(:closes AS timestamptz[]), CAST(:started AS timestamptz[]))"
        ),
        {
            "ids": [r["id"] for r in rows], "tenants": [r["tenant_id"] for r in rows],
            "subscribers": [r["subscriber_id"] for r in rows], "customers": [r["customer_id"] for r in rows],
            "plans": [r["plan_id"] for r in rows], "currencies": [r["currency"] for r in rows],
            "starts": [r["start_date"] for r in rows], "statuses": [r["status"] for r in rows],
            "cycles": [r["next_cycle"] for r in rows], "closes": [r["next_close_at"] for r in rows],
            "started": [r["started_event_at"] for r in rows],
        },
    )  # fmt: skip


async def get_subscription(
    session: AsyncSession, tenant_id: str, subscription_id: str, *, lock: bool = False
) -> Row[Any] | None:
    stmt = select(subscriptions).where(subscriptions.c.tenant_id == tenant_id, subscriptions.c.id == subscription_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).one_or_none()


async def active_subscription_of(
    session: AsyncSession, tenant_id: str, subscriber_id: str, *, lock: bool = False
) -> Row[Any] | None:
    stmt = select(subscriptions).where(
        subscriptions.c.tenant_id == tenant_id,
        subscriptions.c.subscriber_id == subscriber_id,
        subscriptions.c.status == "active",
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).one_or_none()


async def update_subscription(session: AsyncSession, tenant_id: str, subscription_id: str, **values: Any) -> Row[Any]:
    stmt = (
        update(subscriptions)
        .where(subscriptions.c.tenant_id == tenant_id, subscriptions.c.id == subscription_id)
        .values(**values)
        .returning(*subscriptions.c)
    )
    return (await session.execute(stmt)).one()


async def list_subscriptions(
    session: AsyncSession,
    tenant_id: str,
    *,
    customer_id: str | None,
    subscriber_id: str | None,
    limit: int,
    offset: int,
) -> Sequence[Row[Any]]:
    """A page of the tenant's subscriptions, oldest first."""
    stmt = select(subscriptions).where(subscriptions.c.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(subscriptions.c.customer_id == customer_id)
    if subscriber_id is not None:
        stmt = stmt.where(subscriptions.c.subscriber_id == subscriber_id)
    stmt = stmt.order_by(subscriptions.c.created_at, subscriptions.c.id).limit(limit).offset(offset)
    return (await session.execute(stmt)).all()


async def subscriptions_of_usernames(
    session: AsyncSession, usernames: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """(tenant, username) -> the subscriptions billing that username's sessions, share-locked so that a period
    close (which takes them FOR UPDATE) either sees the caller's new samples or finishes first and is then
    marked for re-billing."""
    if not usernames:
        return {}
    found = await session.execute(
        text(
            f"""
            SELECT s.tenant_id, u.username, s.id
            FROM unnest(CAST(:tenants AS text[]), CAST(:usernames AS text[])) AS u(tenant_id, username)
            JOIN {subscribers.name} b ON b.tenant_id = u.tenant_id AND b.username = u.username
            JOIN {subscriptions.name} s ON s.tenant_id = b.tenant_id AND s.subscriber_id = b.subscriber_id
            ORDER BY s.tenant_id, s.id
            FOR SHARE OF s
            """
        ),
        {"tenants": [t for t, _ in usernames], "usernames": [u for _, u in usernames]},
    )
    out: dict[tuple[str, str], list[str]] = {}
    for tenant_id, username, subscription_id in found.all():
        out.setdefault((tenant_id, username), []).append(subscription_id)
    return out


async def claim_due_subscription(
    session: AsyncSession, now: datetime, grace_cutoff: datetime, tenant_id: str | None = None
) -> Row[Any] | None:
    """One subscription with work to do (of `tenant_id`, or of any tenant for the scheduler), locked so that
    others skip it: an active one whose next cycle may close, or an ended one with late usage to bill."""
    tenant = [subscriptions.c.tenant_id == tenant_id] if tenant_id is not None else []
    due = (
        select(subscriptions)
        .where(*tenant, subscriptions.c.status == "active", subscriptions.c.next_close_at <= now)
        .order_by(subscriptions.c.next_close_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = (await session.execute(due)).one_or_none()
    if row is not None:
        return row
    late = (
        select(subscriptions)
        .where(
            *tenant,
            subscriptions.c.status == "ended",
            exists().where(
                usage_periods.c.tenant_id == subscriptions.c.tenant_id,
                usage_periods.c.subscription_id == subscriptions.c.id,
                usage_periods.c.dirty_since <= grace_cutoff,
            ),
        )
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(late)).one_or_none()


async def claim_history_missing(session: AsyncSession, limit: int, tenant_id: str | None = None) -> Sequence[Row[Any]]:
    """Subscriptions whose Started / Canceled / Ended event is not written yet, locked so that others skip them."""
    tenant = [subscriptions.c.tenant_id == tenant_id] if tenant_id is not None else []
    stmt = (
        select(subscriptions)
        .where(*tenant, text(HISTORY_MISSING))
        .order_by(subscriptions.c.tenant_id, subscriptions.c.created_at, subscriptions.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).all()


# --- plan changes -----------------------------------------------------------------------------------------------


async def insert_plan_change(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(plan_changes).values(**values).returning(*plan_changes.c))).one()


async def update_plan_change(session: AsyncSession, tenant_id: str, change_id: str, **values: Any) -> Row[Any]:
    stmt = (
        update(plan_changes)
        .where(plan_changes.c.tenant_id == tenant_id, plan_changes.c.id == change_id)
        .values(**values)
        .returning(*plan_changes.c)
    )
    return (await session.execute(stmt)).one()


async def scheduled_change_of(session: AsyncSession, tenant_id: str, subscription_id: str) -> Row[Any] | None:
    stmt = select(plan_changes).where(
        plan_changes.c.tenant_id == tenant_id,
        plan_changes.c.subscription_id == subscription_id,
        plan_changes.c.status == "scheduled",
    )
    return (await session.execute(stmt.order_by(plan_changes.c.effective_at).limit(1))).one_or_none()


async def scheduled_changes_of(
    session: AsyncSession, tenant_id: str, subscription_ids: Sequence[str]
) -> dict[str, Row[Any]]:
    """Subscription id -> its scheduled change, for a page of subscriptions."""
    if not subscription_ids:
        return {}
    stmt = select(plan_changes).where(
        plan_changes.c.tenant_id == tenant_id,
        plan_changes.c.subscription_id.in_(subscription_ids),
        plan_changes.c.status == "scheduled",
    )
    return {
        row.subscription_id: row
        for row in (await session.execute(stmt.order_by(plan_changes.c.effective_at.desc()))).all()
    }


async def supersede_scheduled_changes(
    session: AsyncSession, tenant_id: str, subscription_id: str, *, from_instant: datetime | None = None
) -> int:
    """Drop the subscription's scheduled changes (those effective at or after `from_instant`, if given)."""
    stmt = update(plan_changes).where(
        plan_changes.c.tenant_id == tenant_id,
        plan_changes.c.subscription_id == subscription_id,
        plan_changes.c.status == "scheduled",
    )
    if from_instant is not None:
        stmt = stmt.where(plan_changes.c.effective_at >= from_instant)
    return int((await session.execute(stmt.values(status="superseded"))).rowcount)  # type: ignore[attr-defined]


async def claim_subscription_with_due_change(
    session: AsyncSession, now: datetime, tenant_id: str | None = None
) -> Row[Any] | None:
    """One subscription with a scheduled change whose time has come, locked so that others skip it (the
    subscription first, then its changes: the order every writer of both takes)."""
    tenant = [subscriptions.c.tenant_id == tenant_id] if tenant_id is not None else []
    stmt = (
        select(subscriptions)
        .where(
            *tenant,
            exists().where(
                plan_changes.c.tenant_id == subscriptions.c.tenant_id,
                plan_changes.c.subscription_id == subscriptions.c.id,
                plan_changes.c.status == "scheduled",
                plan_changes.c.effective_at <= now,
            ),
        )
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).one_or_none()


async def due_changes_of(
    session: AsyncSession, tenant_id: str, subscription_id: str, now: datetime
) -> Sequence[Row[Any]]:
    stmt = (
        select(plan_changes)
        .where(
            plan_changes.c.tenant_id == tenant_id,
            plan_changes.c.subscription_id == subscription_id,
            plan_changes.c.status == "scheduled",
            plan_changes.c.effective_at <= now,
        )
        .order_by(plan_changes.c.effective_at, plan_changes.c.created_at)
        .with_for_update()
    )
    return (await session.execute(stmt)).all()


async def first_applied_change_after(
    session: AsyncSession, tenant_id: str, subscription_id: str, instant: datetime | None
) -> Row[Any] | None:
    """The earliest applied change effective after `instant` (any, when None): its from_plan_id is the plan
    that was in effect at `instant`."""
    stmt = select(plan_changes).where(
        plan_changes.c.tenant_id == tenant_id,
        plan_changes.c.subscription_id == subscription_id,
        plan_changes.c.status == "applied",
    )
    if instant is not None:
        stmt = stmt.where(plan_changes.c.effective_at > instant)
    stmt = stmt.order_by(plan_changes.c.effective_at, plan_changes.c.created_at).limit(1)
    return (await session.execute(stmt)).one_or_none()


async def unbilled_prorations(
    session: AsyncSession, tenant_id: str, subscription_id: str, period_start: date
) -> Sequence[Row[Any]]:
    stmt = (
        select(plan_changes)
        .where(
            plan_changes.c.tenant_id == tenant_id,
            plan_changes.c.subscription_id == subscription_id,
            plan_changes.c.status == "applied",
            plan_changes.c.proration_period_start == period_start,
            plan_changes.c.invoice_id.is_(None),
        )
        .order_by(plan_changes.c.effective_at, plan_changes.c.created_at)
    )
    return (await session.execute(stmt)).all()


async def mark_prorations_billed(
    session: AsyncSession, tenant_id: str, change_ids: Sequence[str], invoice_id: str
) -> None:
    if change_ids:
        stmt = (
            update(plan_changes)
            .where(plan_changes.c.tenant_id == tenant_id, plan_changes.c.id.in_(change_ids))
            .values(invoice_id=invoice_id)
        )
        await session.execute(stmt)


# --- usage ------------------------------------------------------------------------------------------------------


async def record_samples(
    session: AsyncSession, samples: Mapping[tuple[str, str, datetime], Sample]
) -> list[tuple[str, str, datetime]]:
    """Keep the highest cumulative counters per (tenant, session, bucket), one statement for all; returns
    (tenant, username, bucket) of every sample that grew (a redelivered or older interim changes nothing)."""
    if not samples:
        return []
    ordered = sorted(samples.items())  # one lock order for concurrent consumers
    grown = await session.execute(
        text(
            f"""
            INSERT INTO {usage_samples.name} AS u
                (tenant_id, session_key, bucket_start, username, input_octets, output_octets)
            SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:keys AS text[]), CAST(:buckets AS timestamptz[]),
                                 CAST(:usernames AS text[]), CAST(:ins AS bigint[]), CAST(:outs AS bigint[]))
            ON CONFLICT (tenant_id, session_key, bucket_start) DO UPDATE SET
                input_octets = greatest(u.input_octets, EXCLUDED.input_octets),
                output_octets = greatest(u.output_octets, EXCLUDED.output_octets)
            WHERE EXCLUDED.input_octets > u.input_octets OR EXCLUDED.output_octets > u.output_octets
            RETURNING u.tenant_id, u.username, u.bucket_start
            """
        ),
        {
            "tenants": [t for (t, _, _), _ in ordered],
            "keys": [k for (_, k, _), _ in ordered],
            "buckets": [b for (_, _, b), _ in ordered],
            "usernames": [s.username for _, s in ordered],
            "ins": [s.input_octets for _, s in ordered],
            "outs": [s.output_octets for _, s in ordered],
        },
    )
    return [(r[0], r[1], r[2]) for r in grown.all()]


async def usage_between(
    session: AsyncSession, tenant_id: str, username: str, starts_at: datetime, ends_at: datetime
) -> tuple[int, int]:
    """(input, output) octets of `username` in [starts_at, ends_at): for every session active in the window,
    its highest counters before the end minus its highest counters before the start."""
    s = usage_samples
    in_window = (
        select(s.c.session_key)
        .where(
            s.c.tenant_id == tenant_id,
            s.c.username == username,
            s.c.bucket_start >= starts_at,
            s.c.bucket_start < ends_at,
        )
        .distinct()
    )
    before_start = s.c.bucket_start < starts_at
    per_session = (
        select(
            (func.max(s.c.input_octets) - func.coalesce(func.max(s.c.input_octets).filter(before_start), 0)).label(
                "input"
            ),
            (func.max(s.c.output_octets) - func.coalesce(func.max(s.c.output_octets).filter(before_start), 0)).label(
                "output"
            ),
        )
        .where(s.c.tenant_id == tenant_id, s.c.bucket_start < ends_at, s.c.session_key.in_(in_window))
        .group_by(s.c.session_key)
        .subquery()
    )
    stmt = select(func.coalesce(func.sum(per_session.c.input), 0), func.coalesce(func.sum(per_session.c.output), 0))
    row = (await session.execute(stmt)).one()
    return int(row[0]), int(row[1])


async def mark_periods_dirty_from(
    session: AsyncSession, changed: Sequence[tuple[str, str, datetime]], at: datetime
) -> None:
    """For each (tenant, subscription, earliest changed bucket): mark its closed periods that a sample in that
    bucket (or a later one) changes, those ending after it."""
    await session.execute(
        text(
            f"""
            UPDATE {usage_periods.name} p SET dirty_since = :at
            FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[]), CAST(:buckets AS timestamptz[]))
                AS c(tenant_id, subscription_id, bucket)
            WHERE p.tenant_id = c.tenant_id AND p.subscription_id = c.subscription_id AND p.ends_at > c.bucket
              AND p.dirty_since IS NULL
            """
        ),
        {
            "tenants": [t for t, _, _ in changed],
            "ids": [s for _, s, _ in changed],
            "buckets": [b for _, _, b in changed],
            "at": at,
        },
    )


async def postpone_dirty_periods(session: AsyncSession, tenant_id: str, subscription_id: str, until: datetime) -> None:
    stmt = (
        update(usage_periods)
        .where(
            usage_periods.c.tenant_id == tenant_id,
            usage_periods.c.subscription_id == subscription_id,
            usage_periods.c.dirty_since.is_not(None),
        )
        .values(dirty_since=until)
    )
    await session.execute(stmt)


async def insert_period(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(usage_periods).values(**values).returning(*usage_periods.c))).one()


async def dirty_periods(session: AsyncSession, tenant_id: str, subscription_id: str) -> Sequence[Row[Any]]:
    stmt = (
        select(usage_periods)
        .where(
            usage_periods.c.tenant_id == tenant_id,
            usage_periods.c.subscription_id == subscription_id,
            usage_periods.c.dirty_since.is_not(None),
        )
        .order_by(usage_periods.c.period_start)
    )
    return (await session.execute(stmt)).all()


async def update_period(
    session: AsyncSession, tenant_id: str, subscription_id: str, period_start: Any, **values: Any
) -> Row[Any]:
    stmt = (
        update(usage_periods)
        .where(
            usage_periods.c.tenant_id == tenant_id,
            usage_periods.c.subscription_id == subscription_id,
            usage_periods.c.period_start == period_start,
        )
        .values(**values)
        .returning(*usage_periods.c)
    )
    return (await session.execute(stmt)).one()


async def periods_of(session: AsyncSession, tenant_id: str, subscription_id: str) -> Sequence[Row[Any]]:
    stmt = (
        select(usage_periods)
        .where(usage_periods.c.tenant_id == tenant_id, usage_periods.c.subscription_id == subscription_id)
        .order_by(usage_periods.c.period_start)
    )
    return (await session.execute(stmt)).all()


# --- plan fit ---------------------------------------------------------------------------------------------------


async def plan_catalogue(session: AsyncSession, tenant_id: str) -> Sequence[Row[Any]]:
    """The tenant's plans open to new subscriptions (the id as `plan_id`, as in `cycles_starting`)."""
    stmt = (
        select(plans.c.id.label("plan_id"), *(c for c in plans.c if c.name != "id"))
        .where(plans.c.tenant_id == tenant_id, plans.c.active.is_(True))
        .order_by(plans.c.code)
    )
    return (await session.execute(stmt)).all()


async def cycles_starting(
    session: AsyncSession, tenant_id: str, first: date, last: date, *, limit: int, offset: int
) -> Sequence[Any]:
    """A page of the billing cycles that start between first and last (inclusive), with their subscription's plan
    and what the cycle's usage was billed, by subscriber."""
    u, s, p = usage_periods.c, subscriptions.c, plans.c
    stmt = (
        select(
            s.id.label("subscription_id"),
            s.subscriber_id,
            s.customer_id,
            u.period_start,
            u.period_end,
            (u.input_octets + u.output_octets).label("used_octets"),
            u.overage_octets,
            u.billed_minor,
            p.id.label("plan_id"),
            p.code,
            p.name,
            p.currency,
            p.price_minor,
            p.included_octets,
            p.overage_price_per_gb_minor,
            p.overage_increment_octets,
        )
        .join(subscriptions, (s.tenant_id == u.tenant_id) & (s.id == u.subscription_id))
        .join(plans, p.id == s.plan_id)
        .where(u.tenant_id == tenant_id, u.period_start >= first, u.period_start <= last)
        .order_by(s.subscriber_id, u.period_start, s.id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(stmt)).all()


async def counted_from(
    session: AsyncSession, tenant_id: str, subscription_id: str, period_start: date, starts_at: datetime
) -> datetime:
    """Where the usage of the subscription's cycle starting `period_start` counts from: the cycle's start, or its
    latest usage reset (`usage_resets`)."""
    r = usage_resets
    latest = await session.scalar(
        select(func.max(r.c.counts_from)).where(
            r.c.tenant_id == tenant_id, r.c.subscription_id == subscription_id, r.c.period_start == period_start
        )
    )
    return max(starts_at, latest) if latest is not None else starts_at
