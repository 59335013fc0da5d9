"""Queries of the dunning service. Every query is filtered by tenant, except the two claims of the durable
schedule (`claim_due_execution`, `claim_invoice_to_check`): the workers serve every tenant and carry on with
the claimed row's tenant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dunning.adapters.tables import (
    ACTIVE,
    action_attempts,
    action_logs,
    balance_changes,
    campaigns,
    customers,
    executions,
    invoices,
    subscribers,
)
from dunning.domain.campaigns import Action, ExclusionRules, Plan
from dunning.domain.execution import ACTIVE_STATUSES, Balance, ExecutionStatus, Progress
from dunning.domain.selection import CampaignCandidate, CustomerFacts, Debt


def _record(cls: type[Any], row: Row[Any] | Mapping[str, Any], **overrides: Any) -> Any:
    mapping = row._mapping if isinstance(row, Row) else row
    names = {f.name for f in fields(cls)}
    return cls(**({k: v for k, v in mapping.items() if k in names} | overrides))


# --- campaigns -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRecord:
    id: str
    tenant_id: str
    name: str
    description: str | None
    trigger_after_days: int
    max_retries: int
    retry_interval_days: int
    actions: tuple[Action, ...]
    exclusion_rules: ExclusionRules
    priority: int
    is_active: bool
    webhook_secret: str | None
    created_at: datetime
    updated_at: datetime

    def candidate(self) -> CampaignCandidate:
        return CampaignCandidate(
            campaign_id=self.id, name=self.name, priority=self.priority,
            trigger_after_days=self.trigger_after_days, exclusions=self.exclusion_rules,
            created_at=self.created_at, is_active=self.is_active,
        )  # fmt: skip

    def plan(self) -> Plan:
        return Plan.model_validate(
            {
                "actions": self.actions,
                "retry": {"max_retries": self.max_retries, "retry_interval_days": self.retry_interval_days},
                "exclusions": self.exclusion_rules,
            }
        )


def _campaign(row: Row[Any]) -> CampaignRecord:
    record: CampaignRecord = _record(
        CampaignRecord, row,
        actions=tuple(Action.model_validate(a) for a in row.actions),
        exclusion_rules=ExclusionRules.model_validate(row.exclusion_rules),
    )  # fmt: skip
    return record


async def insert_campaign(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(campaigns).values(**values))


async def get_campaign(
    session: AsyncSession, tenant_id: str, campaign_id: str, *, for_update: bool = False
) -> CampaignRecord | None:
    query = select(campaigns).where(campaigns.c.tenant_id == tenant_id, campaigns.c.id == campaign_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return _campaign(row) if row else None


async def campaign_name_taken(session: AsyncSession, tenant_id: str, name: str, *, other_than: str = "") -> bool:
    found = await session.scalar(
        select(campaigns.c.id).where(
            campaigns.c.tenant_id == tenant_id, campaigns.c.name == name, campaigns.c.id != other_than
        )
    )
    return found is not None


async def list_campaigns(
    session: AsyncSession,
    tenant_id: str,
    *,
    active: bool | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[CampaignRecord]:
    """Highest priority first; every one unless `limit` is given."""
    query = select(campaigns).where(campaigns.c.tenant_id == tenant_id)
    if active is not None:
        query = query.where(campaigns.c.is_active.is_(active))
    query = query.order_by(campaigns.c.priority.desc(), campaigns.c.created_at, campaigns.c.id)
    rows = await session.execute(query.limit(limit).offset(offset))
    return [_campaign(r) for r in rows]


async def update_campaign(session: AsyncSession, tenant_id: str, campaign_id: str, values: dict[str, Any]) -> None:
    await session.execute(
        update(campaigns)
        .where(campaigns.c.tenant_id == tenant_id, campaigns.c.id == campaign_id)
        .values(**values, updated_at=func.now())
    )


async def delete_campaign(session: AsyncSession, tenant_id: str, campaign_id: str) -> None:
    await session.execute(campaigns.delete().where(campaigns.c.tenant_id == tenant_id, campaigns.c.id == campaign_id))


async def campaign_has_executions(session: AsyncSession, tenant_id: str, campaign_id: str) -> bool:
    found = await session.scalar(
        select(executions.c.id)
        .where(executions.c.tenant_id == tenant_id, executions.c.campaign_id == campaign_id)
        .limit(1)
    )
    return found is not None


@dataclass(frozen=True)
class CampaignStatistics:
    total_executions: int = 0
    active_executions: int = 0
    successful_executions: int = 0
    failed_executions: int = 0
    canceled_executions: int = 0
    recovered_minor: tuple[tuple[str, int], ...] = ()  # (currency, amount), never summed across currencies


async def campaign_statistics(
    session: AsyncSession, tenant_id: str, campaign_ids: Sequence[str]
) -> dict[str, CampaignStatistics]:
    if not campaign_ids:
        return {}
    e = executions.c
    counts = await session.execute(
        select(
            e.campaign_id,
            func.count(),
            func.count().filter(e.status.in_(ACTIVE_STATUSES)),
            func.count().filter(e.status == ExecutionStatus.COMPLETED),
            func.count().filter(e.status == ExecutionStatus.FAILED),
            func.count().filter(e.status == ExecutionStatus.CANCELED),
        )
        .where(e.tenant_id == tenant_id, e.campaign_id.in_(campaign_ids))
        .group_by(e.campaign_id)
    )
    recovered = await session.execute(
        select(e.campaign_id, e.currency, func.sum(e.recovered_minor))
        .where(e.tenant_id == tenant_id, e.campaign_id.in_(campaign_ids))
        .group_by(e.campaign_id, e.currency)
        .order_by(e.currency)
    )
    per_currency: dict[str, list[tuple[str, int]]] = {}
    for campaign_id, currency, amount in recovered:
        if amount:
            per_currency.setdefault(campaign_id, []).append((currency, int(amount)))
    return {
        cid: CampaignStatistics(total, active, done, failed, canceled, tuple(per_currency.get(cid, ())))
        for cid, total, active, done, failed, canceled in counts
    }


# --- executions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutionRecord:
    id: str
    tenant_id: str
    campaign_id: str
    campaign_name: str
    invoice_id: str
    customer_id: str
    subscriber_id: str | None
    status: ExecutionStatus
    current_step: int
    total_steps: int
    retry_count: int
    plan: Plan
    currency: str
    initial_outstanding_minor: int
    outstanding_minor: int
    recovered_minor: int
    started_at: datetime
    next_action_at: datetime | None
    completed_at: datetime | None
    canceled_reason: str | None
    canceled_by: str | None
    suspended_subscriber_ids: tuple[str, ...]
    correlation_id: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def progress(self) -> Progress:
        return Progress(self.status, self.current_step, self.retry_count, self.next_action_at)

    @property
    def balance(self) -> Balance:
        return Balance(self.outstanding_minor, self.recovered_minor)


def _execution(row: Row[Any]) -> ExecutionRecord:
    record: ExecutionRecord = _record(
        ExecutionRecord, row, status=ExecutionStatus(row.status), plan=Plan.model_validate(row.plan),
        suspended_subscriber_ids=tuple(row.suspended_subscriber_ids),
    )  # fmt: skip
    return record


async def claim_due_execution(session: AsyncSession, now: datetime) -> ExecutionRecord | None:
    """Lock one due active execution that no other worker holds (FOR UPDATE SKIP LOCKED).

    The lock lasts until the caller's transaction ends, so the step runs, is logged and the execution
    advanced by exactly one worker; other workers skip the row instead of waiting for it.
    """
    row = (
        await session.execute(
            select(executions)
            .where(executions.c.status.in_(ACTIVE_STATUSES), executions.c.next_action_at <= now)
            .order_by(executions.c.next_action_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).first()
    return _execution(row) if row else None


async def get_execution(
    session: AsyncSession, tenant_id: str, execution_id: str, *, for_update: bool = False
) -> ExecutionRecord | None:
    query = select(executions).where(executions.c.tenant_id == tenant_id, executions.c.id == execution_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return _execution(row) if row else None


async def latest_execution_for_invoice(
    session: AsyncSession, tenant_id: str, invoice_id: str
) -> ExecutionRecord | None:
    """The invoice's newest execution, locked (waits for a worker that is running one of its steps)."""
    row = (
        await session.execute(
            select(executions)
            .where(executions.c.tenant_id == tenant_id, executions.c.invoice_id == invoice_id)
            .order_by(executions.c.started_at.desc(), executions.c.created_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()
    return _execution(row) if row else None


async def held_elsewhere(
    session: AsyncSession, tenant_id: str, subscriber_ids: Sequence[str], *, excluding: str
) -> set[str]:
    """Which of these subscribers another execution suspended and still holds suspended."""
    if not subscriber_ids:
        return set()
    e = executions.c
    rows = await session.scalars(
        select(e.suspended_subscriber_ids).where(
            e.tenant_id == tenant_id, e.id != excluding, e.suspended_subscriber_ids.has_any(array(subscriber_ids))
        )
    )
    return {s for held in rows for s in held}.intersection(subscriber_ids)


async def insert_execution(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert an execution unless the invoice already has an active one (the partial unique index)."""
    result = await session.execute(
        pg_insert(executions)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "invoice_id"], index_where=literal_column(ACTIVE))
        .returning(executions.c.id)
    )
    return result.first() is not None


async def update_execution(session: AsyncSession, tenant_id: str, execution_id: str, **values: Any) -> None:
    await session.execute(
        update(executions)
        .where(executions.c.tenant_id == tenant_id, executions.c.id == execution_id)
        .values(**values, updated_at=func.now())
    )


@dataclass(frozen=True)
class ExecutionFilter:
    status: ExecutionStatus | None = None
    campaign_id: str | None = None
    customer_id: str | None = None
    invoice_id: str | None = None
    subscriber_id: str | None = None


async def list_executions(
    session: AsyncSession, tenant_id: str, where: ExecutionFilter, *, limit: int, offset: int
) -> tuple[list[ExecutionRecord], int]:
    e = executions.c
    conditions = [e.tenant_id == tenant_id]
    for column, value in (
        (e.status, where.status), (e.campaign_id, where.campaign_id), (e.customer_id, where.customer_id),
        (e.invoice_id, where.invoice_id), (e.subscriber_id, where.subscriber_id),
    ):  # fmt: skip
        if value is not None:
            conditions.append(column == value)
    total = await session.scalar(select(func.count()).select_from(executions).where(and_(*conditions)))
    rows = await session.execute(
        select(executions).where(and_(*conditions)).order_by(e.started_at.desc(), e.id).limit(limit).offset(offset)
    )
    return [_execution(r) for r in rows], int(total or 0)


async def insert_action_log(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(action_logs).values(**values))


async def action_log(session: AsyncSession, tenant_id: str, execution_id: str) -> list[Row[Any]]:
    rows = await session.execute(
        select(action_logs)
        .where(action_logs.c.tenant_id == tenant_id, action_logs.c.execution_id == execution_id)
        .order_by(action_logs.c.step_number, action_logs.c.attempt)
    )
    return list(rows)


# --- intents of external calls -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallIntent:
    action_type: str
    idempotency_key: str
    request: dict[str, Any]
    calls: int


async def pending_intent(
    session: AsyncSession, tenant_id: str, execution_id: str, step_number: int, attempt: int
) -> CallIntent | None:
    """The call of this attempt that was started and whose outcome was never recorded, if any."""
    a = action_attempts.c
    row = (
        await session.execute(
            select(action_attempts).where(
                a.tenant_id == tenant_id, a.execution_id == execution_id, a.step_number == step_number,
                a.attempt == attempt, a.state == "pending",
            )
        )
    ).first()  # fmt: skip
    return _record(CallIntent, row) if row else None


async def record_intent(session: AsyncSession, values: dict[str, Any]) -> None:
    """A new intent (state pending) or, for one recorded before, one more call of the same request."""
    statement = pg_insert(action_attempts).values(**values, state="pending", calls=1)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "execution_id", "step_number", "attempt"],
            set_={"calls": action_attempts.c.calls + 1},
            where=action_attempts.c.state == "pending",
        )
    )


async def record_call_outcome(
    session: AsyncSession, tenant_id: str, idempotency_key: str, *, outcome: str, finished_at: datetime
) -> None:
    a = action_attempts.c
    await session.execute(
        update(action_attempts)
        .where(a.tenant_id == tenant_id, a.idempotency_key == idempotency_key)
        .values(state="done", outcome=outcome, finished_at=finished_at)
    )


async def call_intents(session: AsyncSession, tenant_id: str, execution_id: str) -> list[Row[Any]]:
    a = action_attempts.c
    rows = await session.execute(
        select(action_attempts)
        .where(a.tenant_id == tenant_id, a.execution_id == execution_id)
        .order_by(a.step_number, a.attempt)
    )
    return list(rows)


async def record_balance_change(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False if this change (kind, reference) was recorded for the execution before."""
    result = await session.execute(
        pg_insert(balance_changes).values(**values).on_conflict_do_nothing().returning(balance_changes.c.id)
    )
    return result.first() is not None


async def balance_history(session: AsyncSession, tenant_id: str, execution_id: str) -> list[Row[Any]]:
    rows = await session.execute(
        select(balance_changes)
        .where(balance_changes.c.tenant_id == tenant_id, balance_changes.c.execution_id == execution_id)
        .order_by(balance_changes.c.occurred_at, balance_changes.c.id)
    )
    return list(rows)


@dataclass(frozen=True)
class Totals:
    by_status: dict[str, int]
    per_currency: list[tuple[str, int, int, int]]  # currency, initial outstanding, outstanding, recovered
    average_recovery_rate: float  # percent, over executions that ended
    average_completion_hours: float  # over completed executions


async def totals(session: AsyncSession, tenant_id: str) -> Totals:
    e = executions.c
    counted = await session.execute(select(e.status, func.count()).where(e.tenant_id == tenant_id).group_by(e.status))
    by_status: dict[str, int] = {str(status): int(n) for status, n in counted}
    money = await session.execute(
        select(
            e.currency,
            func.sum(e.initial_outstanding_minor),
            func.sum(e.outstanding_minor),
            func.sum(e.recovered_minor),
        )
        .where(e.tenant_id == tenant_id)
        .group_by(e.currency)
        .order_by(e.currency)
    )
    ended = e.status.in_([ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELED])
    rate = await session.scalar(
        select(
            func.avg(
                case(
                    (e.initial_outstanding_minor > 0, e.recovered_minor * 100.0 / e.initial_outstanding_minor),
                    else_=100.0,
                )
            )
        ).where(e.tenant_id == tenant_id, ended)
    )
    hours = await session.scalar(
        select(func.avg(func.extract("epoch", e.completed_at - e.started_at) / 3600.0)).where(
            e.tenant_id == tenant_id, e.status == ExecutionStatus.COMPLETED
        )
    )
    return Totals(
        by_status=by_status,
        per_currency=[(c, int(i or 0), int(o or 0), int(r or 0)) for c, i, o, r in money],
        average_recovery_rate=round(float(rate or 0.0), 2),
        average_completion_hours=round(float(hours or 0.0), 2),
    )


async def campaign_counts(session: AsyncSession, tenant_id: str) -> tuple[int, int]:
    row = (
        await session.execute(
            select(func.count(), func.count().filter(campaigns.c.is_active.is_(True))).where(
                campaigns.c.tenant_id == tenant_id
            )
        )
    ).one()
    return int(row[0]), int(row[1])


# --- overdue invoices ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceRecord:
    tenant_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    subscriber_id: str | None
    partner_id: str | None
    currency: str
    total_minor: int
    balance_minor: int
    due_date: date
    status: str
    next_check_at: datetime | None
    execution_id: str | None
    check_note: str | None

    def debt(self) -> Debt:
        return Debt(
            invoice_id=self.invoice_id, customer_id=self.customer_id, subscriber_id=self.subscriber_id,
            partner_id=self.partner_id, currency=self.currency, balance_minor=self.balance_minor,
            due_date=self.due_date,
        )  # fmt: skip


async def upsert_overdue_invoice(session: AsyncSession, values: dict[str, Any]) -> InvoiceRecord:
    """Record (or refresh) an overdue invoice and return it locked for this transaction."""
    i = invoices.c
    fresh = {k: v for k, v in values.items() if k not in ("tenant_id", "invoice_id")}
    await session.execute(
        pg_insert(invoices)
        .values(**values, status="overdue")
        .on_conflict_do_update(
            index_elements=["tenant_id", "invoice_id"],
            set_=fresh | {"updated_at": func.now()},
            where=i.status == "overdue",  # a paid or voided invoice stays so
        )
    )
    record = await get_invoice(session, values["tenant_id"], values["invoice_id"], for_update=True)
    assert record is not None
    return record


async def get_invoice(
    session: AsyncSession, tenant_id: str, invoice_id: str, *, for_update: bool = False
) -> InvoiceRecord | None:
    query = select(invoices).where(invoices.c.tenant_id == tenant_id, invoices.c.invoice_id == invoice_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return _record(InvoiceRecord, row) if row else None


async def claim_invoice_to_check(session: AsyncSession, now: datetime) -> InvoiceRecord | None:
    i = invoices.c
    row = (
        await session.execute(
            select(invoices)
            .where(i.status == "overdue", i.execution_id.is_(None), i.next_check_at <= now)
            .order_by(i.next_check_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).first()
    return _record(InvoiceRecord, row) if row else None


async def update_invoice(session: AsyncSession, tenant_id: str, invoice_id: str, **values: Any) -> None:
    await session.execute(
        update(invoices)
        .where(invoices.c.tenant_id == tenant_id, invoices.c.invoice_id == invoice_id)
        .values(**values, updated_at=func.now())
    )


# --- customers and subscribers (our copy) ----------------------------------------------------------------


async def upsert_customer(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep the newest state per customer (an older event arriving late changes nothing)."""
    c = customers.c
    fresh = {k: v for k, v in values.items() if k not in ("tenant_id", "customer_id")}
    statement = pg_insert(customers).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "customer_id"],
            set_=fresh,
            where=c.source_updated_at <= statement.excluded.source_updated_at,
        )
    )


async def get_customer(session: AsyncSession, tenant_id: str, customer_id: str) -> CustomerFacts | None:
    row = (
        await session.execute(
            select(customers).where(customers.c.tenant_id == tenant_id, customers.c.customer_id == customer_id)
        )
    ).first()
    if row is None:
        return None
    return CustomerFacts(
        customer_id=row.customer_id, name=row.name, email=row.email, phone=row.phone,
        partner_id=row.partner_id, tags=tuple(row.tags), timezone=row.timezone,
    )  # fmt: skip


async def upsert_subscriber(session: AsyncSession, values: dict[str, Any]) -> None:
    s = subscribers.c
    fresh = {k: v for k, v in values.items() if k not in ("tenant_id", "subscriber_id")}
    statement = pg_insert(subscribers).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "subscriber_id"],
            set_=fresh,
            where=s.changed_at <= statement.excluded.changed_at,
        )
    )


async def subscriber_statuses(
    session: AsyncSession, tenant_id: str, *, customer_id: str, subscriber_ids: Iterable[str] | None = None
) -> dict[str, str]:
    """Status per subscriber of a customer (all of them, or the given ones)."""
    s = subscribers.c
    query = select(s.subscriber_id, s.status).where(s.tenant_id == tenant_id, s.customer_id == customer_id)
    if subscriber_ids is not None:
        query = query.where(s.subscriber_id.in_(list(subscriber_ids)))
    rows = await session.execute(query.order_by(s.subscriber_id))
    return {subscriber_id: status for subscriber_id, status in rows}


async def subscriber_status(session: AsyncSession, tenant_id: str, subscriber_id: str) -> str | None:
    status: str | None = await session.scalar(
        select(subscribers.c.status).where(
            subscribers.c.tenant_id == tenant_id, subscribers.c.subscriber_id == subscriber_id
        )
    )
    return status
