"""SLAs: definitions, instances per customer service, outages reported by monitoring, breaches and credits.

A measurement period (calendar month or quarter in the customer's time zone) is evaluated
- as soon as an outage report touches it, and while an outage is still going on (worker): a breach is
  detected the moment the downtime so far makes the target unreachable;
- when it ends (worker): the final availability.
The first detection emits SlaBreachDetected and issues the credit the availability at that moment earns
(credit note + SlaCreditIssued). Credit is topped up only by the final evaluation, if the period ended worse
than at detection (a second credit note + SlaCreditIssued for the difference). A breach's credit is
therefore the sum of its SlaCreditIssued events, and never above the rule's cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as billing_repo
from billing.adapters import sla_repo as repo
from billing.domain.calendar import MeasurementPeriod, Period, add_months, local_date, measurement_period, months_in
from billing.domain.sla import CreditRule, Outage, availability_percent, downtime
from billing.service_layer import credit_notes
from billing.service_layer.accounts import require_customer, require_subscriber
from billing.service_layer.deps import Deps, new_id
from bss_contracts.events.billing import SlaBreachDetected, SlaBreachResolved, SlaCreditIssued
from bss_runtime.errors import Conflict, NotFound, RuleViolation

CLOCK_SKEW = timedelta(minutes=5)  # outage times a little ahead of our clock are accepted


@dataclass(frozen=True)
class DefinitionIn:
    name: str
    target_percent: Decimal
    measurement_period: MeasurementPeriod = "month"
    step_percent: Decimal = Decimal("0.1")
    credit_percent_per_step: Decimal = Decimal(10)
    cap_percent: Decimal = Decimal(50)
    major_from_points: Decimal = Decimal("0.5")
    critical_from_points: Decimal = Decimal(2)


def rule_of(definition: Row[Any]) -> CreditRule:
    return CreditRule(
        target_percent=definition.target_percent, step_percent=definition.step_percent,
        credit_percent_per_step=definition.credit_percent_per_step, cap_percent=definition.cap_percent,
        major_from_points=definition.major_from_points, critical_from_points=definition.critical_from_points,
    )  # fmt: skip


async def create_definition(session: AsyncSession, tenant_id: str, body: DefinitionIn) -> Row[Any]:
    try:
        async with session.begin_nested():
            return await repo.insert_definition(session, {"id": new_id(), "tenant_id": tenant_id, **body.__dict__})
    except IntegrityError as exc:
        raise Conflict(f"an SLA definition named {body.name!r} exists", field="name") from exc


async def get_definition(session: AsyncSession, tenant_id: str, definition_id: str) -> Row[Any]:
    definition = await repo.get_definition(session, tenant_id, definition_id)
    if definition is None:
        raise NotFound(f"SLA definition {definition_id} not found")
    return definition


@dataclass(frozen=True)
class InstanceIn:
    definition_id: str
    customer_id: str
    service_name: str
    monthly_fee_minor: int
    currency: str
    subscriber_id: str | None = None
    active_from: datetime | None = None


async def create_instance(session: AsyncSession, deps: Deps, tenant_id: str, body: InstanceIn) -> Row[Any]:
    definition = await repo.get_definition(session, tenant_id, body.definition_id)
    if definition is None:
        raise RuleViolation(f"unknown SLA definition {body.definition_id!r}", field="definition_id")
    customer = await require_customer(session, tenant_id, body.customer_id)
    if body.subscriber_id is not None:
        subscriber = await require_subscriber(session, tenant_id, body.subscriber_id)
        if subscriber.customer_id != body.customer_id:
            raise RuleViolation("the subscriber belongs to another customer", field="subscriber_id")
    tz = deps.zone(customer.timezone)
    active_from = body.active_from or deps.clock.now()
    first = measurement_period(definition.measurement_period, local_date(active_from, tz))
    return await repo.insert_instance(
        session,
        {
            "id": new_id(), "tenant_id": tenant_id, "definition_id": definition.id, "customer_id": body.customer_id,
            "subscriber_id": body.subscriber_id, "service_name": body.service_name,
            "monthly_fee_minor": body.monthly_fee_minor, "currency": body.currency, "active_from": active_from,
            "next_period_start": first.start, "next_evaluation_at": first.ends_at(tz),
        },
    )  # fmt: skip


async def get_instance(session: AsyncSession, tenant_id: str, instance_id: str, *, lock: bool = False) -> Row[Any]:
    instance = await repo.get_instance(session, tenant_id, instance_id, lock=lock)
    if instance is None:
        raise NotFound(f"SLA instance {instance_id} not found")
    return instance


# --- outages ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutageIn:
    started_at: datetime
    ended_at: datetime | None = None
    external_id: str | None = None
    description: str | None = None


async def report_outage(
    session: AsyncSession, deps: Deps, tenant_id: str, instance_id: str, body: OutageIn, reported_by: str
) -> tuple[Row[Any], bool]:
    """Record an outage (or, with a known external_id, end the one reported before) and evaluate what it
    touches at once. Returns the outage and whether it was new."""
    instance = await get_instance(session, tenant_id, instance_id, lock=True)
    now = deps.clock.now()
    _check_times(body.started_at, body.ended_at, now)
    known = None
    if body.external_id is not None:
        known = await repo.outage_by_external_id(session, tenant_id, instance_id, body.external_id)
    if known is not None:
        if known.started_at != body.started_at:
            raise Conflict("this external_id was reported with another start", field="started_at")
        if known.ended_at is None and body.ended_at is not None:
            known = await repo.end_outage(session, tenant_id, known.id, body.ended_at)
            await evaluate_touched(session, deps, instance, known.started_at, now)
        return known, False
    outage = await repo.insert_outage(
        session,
        {
            "id": new_id(), "tenant_id": tenant_id, "instance_id": instance_id, "started_at": body.started_at,
            "ended_at": body.ended_at, "external_id": body.external_id, "description": body.description,
            "reported_by": reported_by,
        },
    )  # fmt: skip
    await evaluate_touched(session, deps, instance, body.started_at, now)
    return outage, True


async def end_outage(session: AsyncSession, deps: Deps, tenant_id: str, outage_id: str, ended_at: datetime) -> Row[Any]:
    outage = await repo.get_outage(session, tenant_id, outage_id)
    if outage is None:
        raise NotFound(f"outage {outage_id} not found")
    instance = await get_instance(session, tenant_id, outage.instance_id, lock=True)
    if outage.ended_at is not None:
        raise Conflict("the outage has ended already", field="ended_at")
    now = deps.clock.now()
    _check_times(outage.started_at, ended_at, now)
    outage = await repo.end_outage(session, tenant_id, outage_id, ended_at)
    await evaluate_touched(session, deps, instance, outage.started_at, now)
    return outage


def _check_times(started_at: datetime, ended_at: datetime | None, now: datetime) -> None:
    if started_at > now + CLOCK_SKEW:
        raise RuleViolation("an outage cannot start in the future", field="started_at")
    if ended_at is not None and ended_at <= started_at:
        raise RuleViolation("an outage ends after it starts", field="ended_at")
    if ended_at is not None and ended_at > now + CLOCK_SKEW:
        raise RuleViolation("an outage cannot end in the future: report it without an end", field="ended_at")


# --- evaluation -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    instance: Row[Any]
    definition: Row[Any]
    tz: ZoneInfo

    @property
    def kind(self) -> MeasurementPeriod:
        kind: MeasurementPeriod = self.definition.measurement_period
        return kind


async def _subject(session: AsyncSession, deps: Deps, instance: Row[Any]) -> _Subject:
    definition = await get_definition(session, instance.tenant_id, instance.definition_id)
    customer = await billing_repo.get_customer(session, instance.tenant_id, instance.customer_id)
    return _Subject(instance, definition, deps.zone(customer.timezone if customer is not None else None))


async def evaluate_touched(
    session: AsyncSession, deps: Deps, instance: Row[Any], since: datetime, now: datetime
) -> None:
    """Evaluate every period from the one containing `since` up to the current one (the instance is locked)."""
    subject = await _subject(session, deps, instance)
    first = measurement_period(subject.kind, local_date(max(since, instance.active_from), subject.tz))
    period = first
    while period.starts_at(subject.tz) <= now:
        await evaluate_period(session, deps, subject, period, now)
        period = Period(period.end, add_months(period.end, months_in(subject.kind)))


async def evaluate_period(session: AsyncSession, deps: Deps, subject: _Subject, period: Period, now: datetime) -> None:
    instance, tz = subject.instance, subject.tz
    starts_at, ends_at = max(period.starts_at(tz), instance.active_from), period.ends_at(tz)
    if ends_at <= starts_at:
        return
    final = ends_at <= now
    outages = await repo.outages_overlapping(session, instance.tenant_id, instance.id, starts_at, ends_at)
    down = downtime([Outage(o.started_at, o.ended_at) for o in outages], starts_at, ends_at, now)
    # Not final: the best the period can still reach, if nothing else goes down.
    actual = availability_percent(down, ends_at - starts_at)
    rule = rule_of(subject.definition)
    if not rule.breached(actual):
        return
    fee = instance.monthly_fee_minor * months_in(subject.kind)
    due = rule.credit_minor(fee, actual)
    breach = await repo.breach_of_period(session, instance.tenant_id, instance.id, period.start)
    if breach is None:
        breach = await _detect(session, deps, subject, period, (starts_at, ends_at), actual, due, final, now)
    else:
        breach = await repo.update_breach(
            session, instance.tenant_id, breach.id, actual_percent=_stored(actual), severity=rule.severity(actual),
            final=final,
        )  # fmt: skip
        if not final:
            return  # top-ups wait for the period's end
    top_up = due - breach.credited_minor
    if top_up > 0:
        await _credit(session, deps, subject, breach, top_up, rule.explain(fee, actual, instance.currency), now)
        await repo.update_breach(session, instance.tenant_id, breach.id, credited_minor=due)


async def _detect(
    session: AsyncSession,
    deps: Deps,
    subject: _Subject,
    period: Period,
    window: tuple[datetime, datetime],
    actual: Fraction,
    credit: int,
    final: bool,
    now: datetime,
) -> Row[Any]:
    instance, rule = subject.instance, rule_of(subject.definition)
    breach = await repo.insert_breach(
        session,
        {
            "id": new_id(), "tenant_id": instance.tenant_id, "instance_id": instance.id,
            "customer_id": instance.customer_id, "period_start": period.start, "period_end": period.end,
            "starts_at": window[0], "ends_at": window[1], "severity": rule.severity(actual),
            "target_percent": rule.target_percent, "actual_percent": _stored(actual),
            "detected_actual_percent": _stored(actual), "credited_minor": 0, "currency": instance.currency,
            "final": final, "status": "open", "detected_at": now,
        },
    )  # fmt: skip
    event = SlaBreachDetected(
        breach_id=breach.id, instance_id=instance.id, customer_id=instance.customer_id,
        sla_definition_id=instance.definition_id, service_id=instance.subscriber_id,
        service_name=instance.service_name, severity=rule.severity(actual), target_value=float(rule.target_percent),
        actual_value=round(float(actual), 6), deviation_percent=round(float(rule.deviation_percent(actual)), 4),
        period_start=window[0], period_end=window[1], detected_at=now, credit_amount_minor=credit,
        currency=instance.currency,
    )  # fmt: skip
    await deps.events.add(session, event, tenant_id=instance.tenant_id)
    return breach


async def _credit(
    session: AsyncSession, deps: Deps, subject: _Subject, breach: Row[Any], amount: int, rule_text: str, now: datetime
) -> None:
    instance = subject.instance
    note = await credit_notes.issue_credit_note(
        session, deps, instance.tenant_id,
        credit_notes.CreditNoteIn(
            amount_minor=amount, currency=instance.currency, customer_id=instance.customer_id, kind="sla",
            sla_breach_id=breach.id,
            reason=f"SLA credit: {instance.service_name}, {breach.period_start.isoformat()} to "
            f"{Period(breach.period_start, breach.period_end).last_day.isoformat()}",
        ),
    )  # fmt: skip
    event = SlaCreditIssued(
        breach_id=breach.id, instance_id=instance.id, customer_id=instance.customer_id, credit_note_id=note.id,
        amount_minor=amount, currency=instance.currency, rule=rule_text, issued_at=now,
    )  # fmt: skip
    await deps.events.add(session, event, tenant_id=instance.tenant_id)


def _stored(percent: Fraction) -> Decimal:
    return Decimal(percent.numerator) / Decimal(percent.denominator)


async def finalize_due(deps: Deps, *, tenant_id: str | None = None) -> int:
    """Evaluate every measurement period (of one tenant, or all) that has ended; returns how many."""
    done = 0
    while True:
        async with deps.database.transaction() as session:
            now = deps.clock.now()
            instance = await repo.claim_instance_to_finalize(session, now, tenant_id)
            if instance is None:
                return done
            subject = await _subject(session, deps, instance)
            period = measurement_period(subject.kind, instance.next_period_start)
            await evaluate_period(session, deps, subject, period, now)
            following = Period(period.end, add_months(period.end, months_in(subject.kind)))
            await repo.update_instance(
                session, instance.tenant_id, instance.id, next_period_start=following.start,
                next_evaluation_at=following.ends_at(subject.tz),
            )  # fmt: skip
        done += 1


async def watch_ongoing(deps: Deps, *, tenant_id: str | None = None) -> int:
    """Re-evaluate the current period of every instance with an outage still going on (early detection)."""
    async with deps.database.transaction() as session:
        candidates = await repo.instances_with_ongoing_outages(session, tenant_id)
    checked = 0
    for candidate in candidates:
        async with deps.database.transaction() as session:
            instance = await repo.try_lock_instance(session, candidate.tenant_id, candidate.id)
            if instance is None:
                continue  # another scheduler is on it
            now = deps.clock.now()
            subject = await _subject(session, deps, instance)
            period = measurement_period(subject.kind, local_date(now, subject.tz))
            await evaluate_period(session, deps, subject, period, now)
        checked += 1
    return checked


async def resolve_breach(
    session: AsyncSession, deps: Deps, tenant_id: str, breach_id: str, resolution: str
) -> Row[Any]:
    breach = await repo.get_breach(session, tenant_id, breach_id, lock=True)
    if breach is None:
        raise NotFound(f"SLA breach {breach_id} not found")
    if breach.status == "resolved":
        raise Conflict("the breach is resolved already")
    now = deps.clock.now()
    breach = await repo.update_breach(
        session, tenant_id, breach_id, status="resolved", resolution=resolution, resolved_at=now
    )
    event = SlaBreachResolved(
        breach_id=breach.id, instance_id=breach.instance_id, customer_id=breach.customer_id, resolution=resolution,
        resolved_at=now,
    )  # fmt: skip
    await deps.events.add(session, event, tenant_id=tenant_id)
    return breach


async def period_status(session: AsyncSession, deps: Deps, instance: Row[Any]) -> dict[str, Any]:
    """The current period's availability so far (for the API)."""
    subject = await _subject(session, deps, instance)
    now = deps.clock.now()
    period = measurement_period(subject.kind, local_date(now, subject.tz))
    starts_at, ends_at = max(period.starts_at(subject.tz), instance.active_from), period.ends_at(subject.tz)
    outages = await repo.outages_overlapping(session, instance.tenant_id, instance.id, starts_at, ends_at)
    down = downtime([Outage(o.started_at, o.ended_at) for o in outages], starts_at, ends_at, now)
    window = ends_at - starts_at if ends_at > starts_at else timedelta(seconds=1)
    rule = rule_of(subject.definition)
    best = availability_percent(down, window)
    return {
        "period_start": period.start, "period_end": period.last_day, "downtime_seconds": down.total_seconds(),
        "best_possible_percent": float(best), "target_percent": float(rule.target_percent),
        "target_reachable": not rule.breached(best),
    }  # fmt: skip
