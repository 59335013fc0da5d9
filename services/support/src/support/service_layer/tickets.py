"""Ticket use cases: each runs in the caller's transaction and writes the change, its audit history and its
events (through the outbox) together.

SLA rules (README): due times come from the tenant's policy for (priority, type) counted in the tenant's business
calendar; `pending_customer` pauses both clocks; a late first response or resolution marks its breach at that
moment if the scheduler has not yet (`breaches.py`), so each clock breaches once whoever notices first.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.support import (
    TicketAssigned,
    TicketFirstResponse,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketSlaBreached,
    TicketStatusChanged,
)
from bss_runtime.errors import Conflict, NotFound, RuleViolation
from support.adapters import repository as repo
from support.domain.business_calendar import Pause
from support.domain.tickets import Status, check_transition, close_pause, due_times, target_for
from support.service_layer.deps import SupportDeps


@dataclass(frozen=True)
class NewTicket:
    ticket_type: str
    subject: str
    customer_id: str
    priority: str = "normal"
    channel: str = "phone"
    description: str | None = None
    service_address: str | None = None
    subscriber_ids: tuple[str, ...] = ()
    device_serials: tuple[str, ...] = ()
    assignee: str | None = None
    resolution_due_at: datetime | None = None
    sla_breach_id: str | None = None


def _common(row: Row[Any] | Mapping[str, Any]) -> dict[str, Any]:
    m = row._mapping if isinstance(row, Row) else row
    return {
        "ticket_id": m["id"], "customer_id": m["customer_id"], "ticket_type": m["ticket_type"],
        "priority": m["priority"],
    }  # fmt: skip


async def _check_links(session: AsyncSession, tenant_id: str, customer_id: str, subscriber_ids: Sequence[str]) -> None:
    known = {r.subscriber_id: r for r in await repo.subscribers_of(session, tenant_id, subscriber_ids)}
    for subscriber_id in subscriber_ids:
        sub = known.get(subscriber_id)
        if sub is None:
            raise RuleViolation(f"unknown subscriber {subscriber_id}", field="subscriber_ids")
        if sub.customer_id != customer_id:
            raise RuleViolation(f"subscriber {subscriber_id} is not customer {customer_id}'s", field="subscriber_ids")


async def _due(
    session: AsyncSession, tenant_id: str, opened_at: datetime, priority: str, ticket_type: str,
    pauses: Sequence[Pause] = (),
) -> tuple[datetime | None, datetime | None]:  # fmt: skip
    calendar = await repo.calendar(session, tenant_id)
    target = target_for(await repo.policies(session, tenant_id), priority, ticket_type)
    due = due_times(calendar, opened_at, target, pauses)
    return due.response, due.resolution


async def open_ticket(
    session: AsyncSession, deps: SupportDeps, tenant_id: str, actor: str, new: NewTicket, *,
    opened_at: datetime | None = None, from_outage: bool = False,
) -> str | None:  # fmt: skip
    """Open a ticket; returns its id (None when the outage policy already opened one for that breach)."""
    now = deps.clock.now()
    opened_at = opened_at or now
    if not from_outage:
        if not await repo.customer_exists(session, tenant_id, new.customer_id):
            raise RuleViolation(f"unknown customer {new.customer_id}", field="customer_id")
        await _check_links(session, tenant_id, new.customer_id, new.subscriber_ids)
    if new.resolution_due_at is not None and new.resolution_due_at <= now:
        raise RuleViolation("the resolution due time is in the past", field="resolution_due_at")
    response_due, resolution_due = await _due(session, tenant_id, opened_at, new.priority, new.ticket_type)
    if new.resolution_due_at is not None:
        resolution_due = new.resolution_due_at
    assert response_due is not None and resolution_due is not None  # no pause yet
    ticket_id = str(uuid.uuid4())
    values = {
        "id": ticket_id, "tenant_id": tenant_id, "ticket_type": new.ticket_type, "subject": new.subject,
        "description": new.description, "customer_id": new.customer_id, "service_address": new.service_address,
        "subscriber_ids": list(new.subscriber_ids), "device_serials": list(new.device_serials),
        "priority": new.priority, "status": Status.NEW.value, "assignee": new.assignee, "channel": new.channel,
        "sla_breach_id": new.sla_breach_id, "opened_at": opened_at, "response_due_at": response_due,
        "resolution_due_at": resolution_due, "due_overridden": new.resolution_due_at is not None,
        "created_by": actor,
    }  # fmt: skip
    if not await repo.insert_ticket(session, values, on_breach_conflict=from_outage):
        return None
    await repo.add_history(session, tenant_id, ticket_id, now, actor, "opened", {
        k: [None, v.isoformat() if isinstance(v, datetime) else v] for k, v in values.items()
        if k not in ("id", "tenant_id", "created_by") and v not in (None, [])
    })  # fmt: skip
    await deps.events.add(session, TicketOpened(
        **_common(values), subject=new.subject, status="new", channel=new.channel,  # type: ignore[arg-type]
        service_address=new.service_address, subscriber_ids=new.subscriber_ids, device_serials=new.device_serials,
        assignee=new.assignee, sla_breach_id=new.sla_breach_id, response_due_at=response_due,
        resolution_due_at=resolution_due, opened_at=opened_at,
    ), tenant_id=tenant_id)  # fmt: skip
    return ticket_id


async def _locked(session: AsyncSession, tenant_id: str, ticket_id: str) -> Row[Any]:
    row: Row[Any] | None = await repo.get_ticket(session, tenant_id, ticket_id, lock=True)
    if row is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return row


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def update_ticket(
    session: AsyncSession, deps: SupportDeps, tenant_id: str, actor: str, ticket_id: str, changes: Mapping[str, Any]
) -> None:
    """Change fields; a new priority or type recomputes the due times (unless the resolution due was set)."""
    row = await _locked(session, tenant_id, ticket_id)
    if row.status == Status.CLOSED and changes:
        raise Conflict("a closed ticket cannot be changed", field="status")
    now = deps.clock.now()
    values: dict[str, Any] = {}
    for field, value in changes.items():
        current = getattr(row, field)
        new = list(value) if isinstance(value, tuple) else value
        if new != current:
            values[field] = new
    if "resolution_due_at" in values:
        if values["resolution_due_at"] is None:
            raise RuleViolation("the resolution due time cannot be removed", field="resolution_due_at")
        if values["resolution_due_at"] <= now:
            raise RuleViolation("the resolution due time is in the past", field="resolution_due_at")
        values["due_overridden"] = True
    if "subscriber_ids" in values:
        await _check_links(session, tenant_id, row.customer_id, values["subscriber_ids"])
    if not values:
        return
    if "priority" in values or "ticket_type" in values:
        pauses = repo.pauses_of(row)
        response_due, resolution_due = await _due(
            session, tenant_id, row.opened_at, values.get("priority", row.priority),
            values.get("ticket_type", row.ticket_type), pauses,
        )  # fmt: skip
        values["response_due_at"] = response_due
        if not (row.due_overridden or "resolution_due_at" in values):
            values["resolution_due_at"] = resolution_due
    await repo.update_ticket(session, tenant_id, ticket_id, values)
    await repo.add_history(session, tenant_id, ticket_id, now, actor, "updated", {
        k: [_json(getattr(row, k)), _json(v)] for k, v in values.items()
    })  # fmt: skip
    if "assignee" in values:
        after = {**row._mapping, **values}
        await deps.events.add(session, TicketAssigned(
            **_common(after), assignee=values["assignee"], previous_assignee=row.assignee, assigned_at=now,
        ), tenant_id=tenant_id)  # fmt: skip


async def _breach(
    session: AsyncSession, deps: SupportDeps, tenant_id: str, row: Mapping[str, Any], clock: str, due: datetime,
    now: datetime, actor: str,
) -> None:  # fmt: skip
    """Mark one clock breached (the caller holds the row lock and checked the flag) and say so."""
    await repo.update_ticket(session, tenant_id, row["id"], {f"{clock}_breached": True})
    await repo.add_history(session, tenant_id, row["id"], now, actor, "sla_breached", {
        f"{clock}_breached": [False, True], f"{clock}_due_at": [due.isoformat(), due.isoformat()],
    })  # fmt: skip
    await deps.events.add(
        session,
        TicketSlaBreached(**_common(row), clock=clock, due_at=due, detected_at=now),  # type: ignore[arg-type]
        tenant_id=tenant_id,
    )


async def transition(
    session: AsyncSession, deps: SupportDeps, tenant_id: str, actor: str, ticket_id: str, target: str,
    reason: str | None = None,
) -> None:  # fmt: skip
    """Move the ticket to `target` (409 when the lifecycle does not allow it), with its clocks and events."""
    row = await _locked(session, tenant_id, ticket_id)
    check_transition(row.status, target)
    now = deps.clock.now()
    values: dict[str, Any] = {"status": target}
    pauses = repo.pauses_of(row)
    if target == Status.PENDING_CUSTOMER:
        values["pauses"] = repo.pauses_json([*pauses, (now, None)])
        values["response_due_at"] = None if row.first_response_at is None else row.response_due_at
        if not row.due_overridden:
            values["resolution_due_at"] = None
    elif row.status == Status.PENDING_CUSTOMER:
        pauses = close_pause(pauses, now)
        values["pauses"] = repo.pauses_json(pauses)
        response_due, resolution_due = await _due(
            session, tenant_id, row.opened_at, row.priority, row.ticket_type, pauses
        )
        values["response_due_at"] = row.response_due_at if row.first_response_at else response_due
        if not row.due_overridden:
            values["resolution_due_at"] = resolution_due
    after = {**row._mapping, **values}
    if target == Status.RESOLVED:
        values["resolved_at"] = now
        values["resolution_seconds"] = int((now - row.opened_at).total_seconds())
    elif target == Status.REOPENED:
        values["resolved_at"] = None
        values["resolution_seconds"] = None
        values["reopen_count"] = row.reopen_count + 1
    elif target == Status.CLOSED:
        values["closed_at"] = now
    await repo.update_ticket(session, tenant_id, ticket_id, values)
    await repo.add_history(session, tenant_id, ticket_id, now, actor, "status", {
        "status": [row.status, target], **({"reason": [None, reason]} if reason else {}),
    })  # fmt: skip
    await deps.events.add(session, TicketStatusChanged(
        **_common(row), previous_status=row.status, status=target, reason=reason, changed_at=now,  # type: ignore[arg-type]
    ), tenant_id=tenant_id)  # fmt: skip
    if target == Status.RESOLVED:
        due = after["resolution_due_at"]
        late = due is not None and now > due
        if late and not row.resolution_breached:
            await _breach(session, deps, tenant_id, after, "resolution", due, now, actor)
        await deps.events.add(session, TicketResolved(
            **_common(row), opened_at=row.opened_at, resolved_at=now, resolution_seconds=values["resolution_seconds"],
            resolution_due_at=due or now, within_sla=not late and not row.resolution_breached,
        ), tenant_id=tenant_id)  # fmt: skip
    elif target == Status.REOPENED:
        await deps.events.add(
            session, TicketReopened(**_common(row), reason=reason, reopened_at=now), tenant_id=tenant_id
        )


async def add_comment(
    session: AsyncSession, deps: SupportDeps, tenant_id: str, actor: str, ticket_id: str, body: str, internal: bool
) -> str:
    """A comment or internal note. The first public comment by support is the first response: it stops the
    response clock (breaching it if late) and moves a new ticket to open."""
    row = await _locked(session, tenant_id, ticket_id)
    if row.status == Status.CLOSED:
        raise Conflict("a closed ticket takes no comments", field="status")
    now = deps.clock.now()
    comment_id = str(uuid.uuid4())
    await repo.add_comment(session, {
        "id": comment_id, "tenant_id": tenant_id, "ticket_id": ticket_id, "author": actor, "body": body,
        "internal": internal, "created_at": now,
    })  # fmt: skip
    await repo.add_history(session, tenant_id, ticket_id, now, actor, "note" if internal else "comment", {
        "comment_id": [None, comment_id],
    })  # fmt: skip
    if internal or row.first_response_at is not None:
        return comment_id
    due = row.response_due_at
    late = due is not None and now > due
    await repo.update_ticket(session, tenant_id, ticket_id, {"first_response_at": now})
    if late and not row.response_breached:
        await _breach(session, deps, tenant_id, dict(row._mapping), "response", due, now, actor)
    await deps.events.add(session, TicketFirstResponse(
        **_common(row), responded_at=now, response_seconds=int((now - row.opened_at).total_seconds()),
        response_due_at=due or now, within_sla=not late and not row.response_breached,
    ), tenant_id=tenant_id)  # fmt: skip
    if row.status == Status.NEW:
        await transition(session, deps, tenant_id, actor, ticket_id, Status.OPEN.value, "first response")
    return comment_id


async def add_attachment(
    session: AsyncSession, deps: SupportDeps, tenant_id: str, actor: str, ticket_id: str, meta: Mapping[str, Any]
) -> str:
    """Attachment metadata (the file itself lives in the document store named by storage_url)."""
    await _locked(session, tenant_id, ticket_id)
    now = deps.clock.now()
    attachment_id = str(uuid.uuid4())
    await repo.add_attachment(session, {
        **meta, "id": attachment_id, "tenant_id": tenant_id, "ticket_id": ticket_id, "uploaded_by": actor,
        "created_at": now,
    })  # fmt: skip
    await repo.add_history(session, tenant_id, ticket_id, now, actor, "attachment", {
        "filename": [None, meta["filename"]],
    })  # fmt: skip
    return attachment_id


async def mark_breaches(deps: SupportDeps, batch_size: int) -> int:
    """One pass of the breach scheduler: every due clock of a batch of tickets, in one transaction. Replicas
    run this at once; SKIP LOCKED hands each ticket to one of them, and the flag makes a second pass a no-op."""
    now = deps.clock.now()
    count = 0
    async with deps.database.transaction() as session:
        for row in await repo.due_for_breach(session, now, batch_size):
            m = dict(row._mapping)
            if not row.response_breached and row.first_response_at is None and row.response_due_at <= now:
                await _breach(session, deps, row.tenant_id, m, "response", row.response_due_at, now, "sla-scheduler")
                count += 1
            if not row.resolution_breached and row.resolution_due_at <= now:
                await _breach(
                    session, deps, row.tenant_id, m, "resolution", row.resolution_due_at, now, "sla-scheduler"
                )
                count += 1
    return count
