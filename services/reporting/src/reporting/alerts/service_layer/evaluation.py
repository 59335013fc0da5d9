"""Evaluating rules: one due rule per transaction, claimed with `FOR UPDATE SKIP LOCKED`. A rule is due on its
schedule, or when events that can move its measure were applied since its last evaluation (triggers.py).

The claim, the measurement, every alert's state change, its event in the outbox (AlertFiring, AlertResolved)
and the notifications it owes (one row per channel: the intent) are written in one transaction, and the rule's
next evaluation is moved past now in it too. A second evaluator (another replica) skips the locked rule and,
once the first commits, finds it no longer due: a transition happens once, so it is notified once. Sending
happens later, outside any rule or alert lock (service_layer/delivery.py).

A measurement that fails (the broker unreachable, say) changes no alert: the rule is tried again at its next
evaluation and the failure is logged.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.alerts import AlertFiring, AlertResolved
from bss_runtime.delivery import sign_body
from reporting.alerts.adapters import measures
from reporting.alerts.adapters import repository as repo
from reporting.alerts.domain.measures import Measurement
from reporting.alerts.domain.rules import RuleKind, holds, threshold
from reporting.alerts.domain.states import ActiveAlert, AlertState, Step, next_step
from reporting.alerts.service_layer.deps import AlertsDeps

log = logging.getLogger(__name__)


async def evaluate_next(deps: AlertsDeps) -> bool:
    """Evaluate one due rule. False: none was due (or every due one is being evaluated by another worker)."""
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        gap = timedelta(seconds=deps.settings.alert_event_gap_seconds)
        rule = await repo.claim_due_rule(session, now, gap)
        if rule is None:
            return False
        await repo.update_rule(
            session,
            rule.tenant_id,
            rule.rule_id,
            last_evaluated_at=now,
            next_evaluation_at=now + timedelta(seconds=rule.interval_seconds),
            trigger_seq=rule.seq,
        )
        try:
            async with session.begin_nested():
                await evaluate_rule(deps, session, rule, now)
        except Exception:
            log.exception("alert rule %s of tenant %s could not be evaluated", rule.rule_id, rule.tenant_id)
    return True


async def evaluate_due(deps: AlertsDeps, *, at_most: int = 1000) -> int:
    """Evaluate due rules until none is left (or `at_most`); how many were evaluated."""
    done = 0
    while done < at_most and await evaluate_next(deps):
        done += 1
    return done


async def evaluate_rule(deps: AlertsDeps, session: AsyncSession, rule: Row[Any], now: datetime) -> None:
    kind = RuleKind(rule.kind)
    conn = await session.connection()
    found = await measures.measure(conn, deps.read_schema, rule.tenant_id, kind, rule.parameters, now, deps.kafka)
    by_subject = {m.subject: m for m in found}
    limit = threshold(kind, rule.parameters)
    active = await repo.active_alerts(session, rule.tenant_id, rule.rule_id)
    silenced = await repo.silenced_subjects(session, rule.tenant_id, rule.rule_id, now)
    for subject in sorted(set(by_subject) | set(active)):
        measured = by_subject.get(subject)
        row = active.get(subject)
        alert = row and ActiveAlert(
            AlertState(row.state), row.started_at, row.last_notified_at, row.acknowledged_at is not None
        )
        condition = measured is not None and holds(kind, measured.value, limit)
        step = next_step(alert, condition, now, for_seconds=rule.for_seconds, repeat_seconds=rule.repeat_seconds)
        quiet = None in silenced or subject in silenced
        await _apply(deps, session, rule, subject, row, measured, limit, step, quiet, now)


async def _apply(
    deps: AlertsDeps,
    session: AsyncSession,
    rule: Row[Any],
    subject: str,
    row: Row[Any] | None,
    measured: Measurement | None,
    limit: float,
    step: Step,
    quiet: bool,
    now: datetime,
) -> None:
    tenant = rule.tenant_id
    value = measured.value if measured else None
    summary = measured.summary if measured else f"{subject}: no longer measured"
    if step is Step.NONE:
        if row is not None:
            await repo.update_alert(session, tenant, row.alert_id, value=value, summary=summary, updated_at=now)
        return
    if step is Step.DROP_PENDING:
        assert row is not None
        await repo.delete_alert(session, tenant, row.alert_id)
        return
    if row is None:
        alert_id = str(uuid.uuid4())
        state = "pending" if step is Step.START_PENDING else "firing"
        await repo.insert_alert(
            session,
            {
                "tenant_id": tenant,
                "alert_id": alert_id,
                "rule_id": rule.rule_id,
                "subject": subject,
                "state": state,
                "value": value,
                "threshold": limit,
                "summary": summary,
                "started_at": now,
                "fired_at": now if state == "firing" else None,
                "updated_at": now,
            },
        )
        started_at, fired_at = now, now
    else:
        alert_id, started_at, fired_at = row.alert_id, row.started_at, row.fired_at or now
    if step is Step.START_PENDING:
        return
    changes: dict[str, Any] = {"value": value, "summary": summary, "updated_at": now}
    common = {
        "alert_id": alert_id,
        "rule_id": rule.rule_id,
        "rule_name": rule.name,
        "kind": rule.kind,
        "subject": subject,
        "value": value,
        "threshold": limit,
        "summary": summary,
        "started_at": started_at,
    }
    transition = {Step.FIRE: "firing", Step.REMIND: "reminder", Step.RESOLVE: "resolved"}[step]
    if step is Step.FIRE:
        changes |= {"state": "firing", "fired_at": fired_at}
        await deps.events.add(session, AlertFiring(**common, fired_at=fired_at), tenant_id=tenant, time=now)
    elif step is Step.RESOLVE:
        changes |= {"state": "resolved", "resolved_at": now}
        await deps.events.add(
            session, AlertResolved(**common, fired_at=fired_at, resolved_at=now), tenant_id=tenant, time=now
        )
    if not quiet:
        body = notification_body(rule, common | {"fired_at": fired_at}, transition, now)
        await _owe_notifications(session, rule, alert_id, transition, body, now)
        changes["last_notified_at"] = now
    await repo.update_alert(session, tenant, alert_id, **changes)


async def close_alerts_of_deleted_rule(deps: AlertsDeps, session: AsyncSession, rule: Row[Any], now: datetime) -> None:
    """A rule being deleted: its pending alerts go, its firing ones resolve (AlertResolved, notified), since
    nobody will measure them again."""
    for subject, row in (await repo.active_alerts(session, rule.tenant_id, rule.rule_id)).items():
        silenced = await repo.silenced_subjects(session, rule.tenant_id, rule.rule_id, now)
        step = Step.DROP_PENDING if row.state == AlertState.PENDING else Step.RESOLVE
        gone = (
            Measurement(subject, row.value, f"{subject}: rule {rule.name!r} deleted") if row.value is not None else None
        )
        await _apply(
            deps, session, rule, subject, row, gone, row.threshold, step, None in silenced or subject in silenced, now
        )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def notification_body(rule: Row[Any], alert: dict[str, Any], transition: str, now: datetime) -> dict[str, Any]:
    return {
        "event": f"alert.{transition}",
        "tenant_id": rule.tenant_id,
        "alert_id": alert["alert_id"],
        "rule_id": rule.rule_id,
        "rule_name": rule.name,
        "kind": rule.kind,
        "severity": rule.severity,
        "subject": alert["subject"],
        "value": alert["value"],
        "threshold": alert["threshold"],
        "summary": alert["summary"],
        "started_at": _iso(alert["started_at"]),
        "fired_at": _iso(alert["fired_at"]),
        "resolved_at": _iso(now) if transition == "resolved" else None,
        "at": _iso(now),
    }


async def _owe_notifications(
    session: AsyncSession, rule: Row[Any], alert_id: str, transition: str, body: dict[str, Any], now: datetime
) -> None:
    targets = []
    if rule.email_to:
        targets.append(("email", rule.email_to))
    if rule.webhook_url:
        targets.append(("webhook", rule.webhook_url))
    for channel, target in targets:
        notification_id = str(uuid.uuid4())
        await repo.insert_notification(
            session,
            {
                "tenant_id": rule.tenant_id,
                "notification_id": notification_id,
                "alert_id": alert_id,
                "transition": transition,
                "channel": channel,
                "target": target,
                "body": (exact := json.dumps(body | {"notification_id": notification_id}, separators=(",", ":"))),
                "signature": sign_body(rule.webhook_secret or "", exact.encode()) if channel == "webhook" else None,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
