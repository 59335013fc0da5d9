"""Queries of the alerts' tables; every one filtered by tenant, except the workers' claims of due work, which
take any tenant's rows (with `FOR UPDATE SKIP LOCKED`: two replicas never take the same row)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.alerts.adapters.tables import alerts, nas_capacities, notifications, rules, silences, triggers

ACTIVE = ("pending", "firing")


# ---------------------------------------------------------------- rules


async def insert_rule(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(rules).values(**values))


async def get_rule(session: AsyncSession, tenant: str, rule_id: str) -> Row[Any] | None:
    found = await session.execute(select(rules).where(rules.c.tenant_id == tenant, rules.c.rule_id == rule_id))
    return found.first()


async def list_rules(session: AsyncSession, tenant: str) -> Sequence[Row[Any]]:
    found = await session.execute(
        select(rules).where(rules.c.tenant_id == tenant).order_by(rules.c.created_at, rules.c.rule_id)
    )
    return found.all()


async def update_rule(session: AsyncSession, tenant: str, rule_id: str, **values: Any) -> None:
    await session.execute(update(rules).where(rules.c.tenant_id == tenant, rules.c.rule_id == rule_id).values(**values))


async def delete_rule(session: AsyncSession, tenant: str, rule_id: str) -> bool:
    result = await session.execute(delete(rules).where(rules.c.tenant_id == tenant, rules.c.rule_id == rule_id))
    return bool(getattr(result, "rowcount", 0))


async def claim_due_rule(session: AsyncSession, now: datetime, event_gap: timedelta) -> Row[Any] | None:
    """One enabled rule due for evaluation, locked until the transaction ends, with the trigger counter of its
    kind (`seq`); rules other evaluators hold are skipped. Due: by its schedule, or because events that can move
    its measure were applied since it was last evaluated (and at least `event_gap` has passed since then)."""
    t = triggers.c
    seq = func.coalesce(t.seq, 0)
    found = await session.execute(
        select(rules, seq.label("seq"))
        .outerjoin(triggers, (t.tenant_id == rules.c.tenant_id) & (t.kind == rules.c.kind))
        .where(
            rules.c.enabled,
            or_(
                rules.c.next_evaluation_at <= now,
                and_(
                    seq > rules.c.trigger_seq,
                    or_(rules.c.last_evaluated_at.is_(None), rules.c.last_evaluated_at <= now - event_gap),
                ),
            ),
        )
        .order_by(rules.c.next_evaluation_at)
        .limit(1)
        .with_for_update(of=rules, skip_locked=True)
    )
    return found.first()


# ---------------------------------------------------------------- alerts


async def active_alerts(session: AsyncSession, tenant: str, rule_id: str) -> dict[str, Row[Any]]:
    found = await session.execute(
        select(alerts).where(alerts.c.tenant_id == tenant, alerts.c.rule_id == rule_id, alerts.c.state.in_(ACTIVE))
    )
    return {row.subject: row for row in found.all()}


async def insert_alert(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(alerts).values(**values))


async def update_alert(session: AsyncSession, tenant: str, alert_id: str, **values: Any) -> None:
    await session.execute(
        update(alerts).where(alerts.c.tenant_id == tenant, alerts.c.alert_id == alert_id).values(**values)
    )


async def delete_alert(session: AsyncSession, tenant: str, alert_id: str) -> None:
    await session.execute(delete(alerts).where(alerts.c.tenant_id == tenant, alerts.c.alert_id == alert_id))


async def get_alert(session: AsyncSession, tenant: str, alert_id: str) -> Row[Any] | None:
    found = await session.execute(
        select(alerts, rules.c.name.label("rule_name"), rules.c.kind, rules.c.severity)
        .join(rules, and_(rules.c.tenant_id == alerts.c.tenant_id, rules.c.rule_id == alerts.c.rule_id), isouter=True)
        .where(alerts.c.tenant_id == tenant, alerts.c.alert_id == alert_id)
    )
    return found.first()


async def list_alerts(
    session: AsyncSession, tenant: str, state: str | None, rule_id: str | None, limit: int, offset: int
) -> Sequence[Row[Any]]:
    query = (
        select(alerts, rules.c.name.label("rule_name"), rules.c.kind, rules.c.severity)
        .join(rules, and_(rules.c.tenant_id == alerts.c.tenant_id, rules.c.rule_id == alerts.c.rule_id), isouter=True)
        .where(alerts.c.tenant_id == tenant)
    )
    if state is not None:
        query = query.where(alerts.c.state == state)
    if rule_id is not None:
        query = query.where(alerts.c.rule_id == rule_id)
    found = await session.execute(
        query.order_by(alerts.c.started_at.desc(), alerts.c.alert_id).limit(limit).offset(offset)
    )
    return found.all()


# ---------------------------------------------------------------- silences


async def insert_silence(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(silences).values(**values))


async def silenced_subjects(session: AsyncSession, tenant: str, rule_id: str, now: datetime) -> set[str | None]:
    """Subjects of the rule silenced at `now` (None: every subject)."""
    found = await session.execute(
        select(silences.c.subject).where(
            silences.c.tenant_id == tenant, silences.c.rule_id == rule_id, silences.c.ends_at > now
        )
    )
    return set(found.scalars().all())


async def list_silences(session: AsyncSession, tenant: str, now: datetime) -> Sequence[Row[Any]]:
    found = await session.execute(
        select(silences)
        .where(silences.c.tenant_id == tenant, silences.c.ends_at > now)
        .order_by(silences.c.ends_at, silences.c.silence_id)
    )
    return found.all()


async def expire_silence(session: AsyncSession, tenant: str, silence_id: str, now: datetime) -> bool:
    result = await session.execute(
        update(silences)
        .where(silences.c.tenant_id == tenant, silences.c.silence_id == silence_id, silences.c.ends_at > now)
        .values(ends_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


# ---------------------------------------------------------------- notifications


async def insert_notification(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(notifications).values(**values))


async def claim_notification(session: AsyncSession, now: datetime, lease_until: datetime) -> Row[Any] | None:
    """One due notification (pending, its retry time come, not leased to another worker), leased until
    `lease_until` and its try counted; the row lock ends with this short transaction, not with the call."""
    n = notifications.c
    found = await session.execute(
        select(notifications)
        .where(n.status == "pending", n.next_attempt_at <= now, or_(n.claimed_until.is_(None), n.claimed_until <= now))
        .order_by(n.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = found.first()
    if row is None:
        return None
    await session.execute(
        update(notifications)
        .where(n.tenant_id == row.tenant_id, n.notification_id == row.notification_id)
        .values(claimed_until=lease_until, attempts=n.attempts + 1)
    )
    return row


async def finish_notification(
    session: AsyncSession, tenant: str, notification_id: str, attempts: int, **values: Any
) -> None:
    """Record a try's outcome, unless another worker took the notification over since (its lease ran out)."""
    n = notifications.c
    await session.execute(
        update(notifications)
        .where(n.tenant_id == tenant, n.notification_id == notification_id, n.attempts == attempts)
        .values(claimed_until=None, **values)
    )


async def list_notifications(session: AsyncSession, tenant: str, alert_id: str) -> Sequence[Row[Any]]:
    n = notifications.c
    found = await session.execute(
        select(notifications)
        .where(n.tenant_id == tenant, n.alert_id == alert_id)
        .order_by(n.created_at, n.notification_id)
    )
    return found.all()


# ---------------------------------------------------------------- NAS capacities


async def put_capacity(session: AsyncSession, tenant: str, nas_id: str, max_sessions: int, now: datetime) -> None:
    stmt = pg_insert(nas_capacities).values(tenant_id=tenant, nas_id=nas_id, max_sessions=max_sessions, updated_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "nas_id"], set_={"max_sessions": max_sessions, "updated_at": now}
        )
    )


async def list_capacities(session: AsyncSession, tenant: str) -> Sequence[Row[Any]]:
    found = await session.execute(
        select(nas_capacities).where(nas_capacities.c.tenant_id == tenant).order_by(nas_capacities.c.nas_id)
    )
    return found.all()


async def delete_capacity(session: AsyncSession, tenant: str, nas_id: str) -> bool:
    result = await session.execute(
        delete(nas_capacities).where(nas_capacities.c.tenant_id == tenant, nas_capacities.c.nas_id == nas_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def count_alerts(session: AsyncSession, tenant: str, state: str) -> int:
    found = await session.scalar(
        select(func.count()).select_from(alerts).where(alerts.c.tenant_id == tenant, alerts.c.state == state)
    )
    return int(found or 0)


# ---------------------------------------------------------------- triggers


async def raise_triggers(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> None:
    """Raise the trigger counter of each (tenant, rule kind), in one order (one statement)."""
    ordered = sorted(set(keys))
    if not ordered:
        return
    stmt = pg_insert(triggers).values([{"tenant_id": t, "kind": k, "seq": 1} for t, k in ordered])
    await session.execute(stmt.on_conflict_do_update(constraint="pk_alert_triggers", set_={"seq": triggers.c.seq + 1}))
