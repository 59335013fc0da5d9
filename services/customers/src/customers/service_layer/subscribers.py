"""Use cases on subscribers (a customer's service accounts): creation and the lifecycle.

A status change writes, in one transaction: the new status, a history row saying who or what asked and why,
and the event announcing it. Requests from other services (dunning) arrive as events; each is recorded with
its outcome, and a request_id already recorded is not applied again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import Envelope
from bss_contracts.events.customers import (
    SubscriberActivated,
    SubscriberCreated,
    SubscriberReinstated,
    SubscriberReinstatementRequested,
    SubscriberSuspended,
    SubscriberSuspensionRequested,
    SubscriberTerminated,
    SubscriberTerminationRequested,
)
from bss_runtime.errors import NotFound
from bss_runtime.outbox import EventWriter
from customers.adapters import repository as repo
from customers.domain.lifecycle import Action, Decision, Outcome, Status, decide
from customers.service_layer.common import conflict, new_id, utcnow

log = logging.getLogger(__name__)

_UNIQUE = {"uq_subscribers_tenant_id_username": ("username", "this username is taken")}

_ANNOUNCE = {
    Action.ACTIVATE: SubscriberActivated,
    Action.SUSPEND: SubscriberSuspended,
    Action.REINSTATE: SubscriberReinstated,
    Action.TERMINATE: SubscriberTerminated,
}

Request = SubscriberSuspensionRequested | SubscriberReinstatementRequested | SubscriberTerminationRequested

REQUEST_ACTIONS: dict[type[Request], Action] = {
    SubscriberSuspensionRequested: Action.SUSPEND,
    SubscriberReinstatementRequested: Action.REINSTATE,
    SubscriberTerminationRequested: Action.TERMINATE,
}


async def create_subscriber(
    session: AsyncSession,
    events: EventWriter,
    tenant_id: str,
    customer_id: str,
    *,
    username: str,
    plan_id: str | None,
) -> Row[Any]:
    """A new service account of the customer, pending until activated."""
    if await repo.get_customer(session, tenant_id, customer_id) is None:
        raise NotFound(f"no customer {customer_id}")
    now = utcnow()
    try:
        row = await repo.insert_subscriber(
            session, tenant_id, id=new_id(), customer_id=customer_id, username=username, plan_id=plan_id,
            status=Status.PENDING.value, status_changed_at=now, created_at=now,
        )  # fmt: skip
    except IntegrityError as exc:
        raise conflict(exc, _UNIQUE) from exc
    await events.add(
        session,
        SubscriberCreated(
            subscriber_id=row.id,
            customer_id=customer_id,
            username=username,
            plan_id=plan_id,
            status=Status.PENDING.value,
            created_at=now,
        ),
        tenant_id=tenant_id,
    )
    return row


async def get_subscriber(session: AsyncSession, tenant_id: str, subscriber_id: str) -> Row[Any]:
    row = await repo.get_subscriber(session, tenant_id, subscriber_id)
    if row is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    return row


@dataclass(frozen=True)
class Who:
    """Who asked for a change: a user (by id) or a service, and the request and event that carried it."""

    requested_by: str | None
    request_id: str | None = None
    cause_event_id: UUID | None = None


async def _apply(
    session: AsyncSession,
    events: EventWriter,
    tenant_id: str,
    row: Row[Any],
    action: Action,
    reason: str | None,
    who: Who,
) -> tuple[Decision, Row[Any]]:
    """Decide on `action` for the (locked) subscriber `row`; if it changes the status, record and announce it."""
    decision = decide(Status(row.status), action)
    if not decision.changed:
        return decision, row
    now = utcnow()
    row = await repo.set_subscriber_status(
        session, tenant_id, row.id, status=decision.status.value, reason=reason, at=now
    )
    await repo.insert_status_change(
        session, tenant_id, id=new_id(), subscriber_id=row.id, action=action.value,
        previous_status=decision.previous.value, status=decision.status.value, reason=reason,
        requested_by=who.requested_by, cause_event_id=who.cause_event_id, request_id=who.request_id, changed_at=now,
    )  # fmt: skip
    await events.add(
        session,
        _ANNOUNCE[action](
            subscriber_id=row.id,
            customer_id=row.customer_id,
            username=row.username,
            previous_status=decision.previous.value,
            status=decision.status.value,
            reason=reason,
            changed_at=now,
            requested_by=who.requested_by,
        ),
        tenant_id=tenant_id,
    )
    return decision, row


async def change_status(
    session: AsyncSession,
    events: EventWriter,
    tenant_id: str,
    subscriber_id: str,
    action: Action,
    *,
    reason: str | None,
    requested_by: str,
) -> tuple[Decision, Row[Any]]:
    """A user's request (HTTP). The caller turns a rejected decision into its answer."""
    row = await repo.get_subscriber(session, tenant_id, subscriber_id, lock=True)
    if row is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    return await _apply(session, events, tenant_id, row, action, reason, Who(requested_by))


async def handle_request(session: AsyncSession, events: EventWriter, event: Envelope[Request]) -> str:
    """A request event from another service; returns its outcome (applied, no_op, rejected, duplicate).

    Never raises for a request that cannot be applied: that is an answer (recorded), not a poison message.
    """
    request, tenant_id = event.data, event.tenant_id
    action = REQUEST_ACTIONS[type(request)]
    claimed = await repo.claim_request(
        session, tenant_id, request_id=request.request_id, event_id=event.id, event_type=event.type,
        action=action.value, subscriber_id=request.subscriber_id, customer_id=request.customer_id,
        reason=request.reason, requested_by=request.requested_by, invoice_id=request.invoice_id,
        dunning_execution_id=request.dunning_execution_id, requested_at=request.requested_at, received_at=utcnow(),
    )  # fmt: skip
    if not claimed:
        log.info("request already handled", extra={"request_id": request.request_id, "event_id": str(event.id)})
        return "duplicate"
    row = await repo.get_subscriber(session, tenant_id, request.subscriber_id, lock=True)
    detail: str | None
    if row is None:
        outcome, detail = Outcome.REJECTED.value, f"no subscriber {request.subscriber_id}"
    elif row.customer_id != request.customer_id:
        outcome, detail = Outcome.REJECTED.value, f"subscriber belongs to customer {row.customer_id}"
    else:
        who = Who(request.requested_by, request_id=request.request_id, cause_event_id=event.id)
        decision, _ = await _apply(session, events, tenant_id, row, action, request.reason, who)
        outcome = "applied" if decision.changed else decision.outcome.value
        detail = decision.reason
    await repo.settle_request(session, tenant_id, request.request_id, outcome, detail)
    if outcome == Outcome.REJECTED.value:
        log.warning("request rejected", extra={"request_id": request.request_id, "detail": detail})
    return outcome
