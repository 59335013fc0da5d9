"""Requests to the customers service about subscribers: suspend, reinstate, terminate (through the outbox)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.customers import (
    SubscriberReinstatementRequested,
    SubscriberSuspensionRequested,
    SubscriberTerminationRequested,
)
from dunning.adapters import repository as repo
from dunning.adapters.repository import ExecutionRecord
from dunning.service_layer.deps import REQUESTED_BY, Deps, stable_id

Request = type[SubscriberSuspensionRequested | SubscriberReinstatementRequested | SubscriberTerminationRequested]


def request(
    kind: Request, execution: ExecutionRecord, subscriber_id: str, *, reason: str, now: datetime, salt: object
) -> SubscriberSuspensionRequested | SubscriberReinstatementRequested | SubscriberTerminationRequested:
    return kind(
        request_id=stable_id(execution.id, kind.event_type, subscriber_id, salt),
        subscriber_id=subscriber_id, customer_id=execution.customer_id, reason=reason,
        requested_by=REQUESTED_BY, invoice_id=execution.invoice_id, dunning_execution_id=execution.id,
        requested_at=now,
    )  # fmt: skip


async def request_reinstatement(
    session: AsyncSession, deps: Deps, execution: ExecutionRecord, subscriber_ids: Iterable[str], *, reason: str
) -> list[str]:
    """Ask the customers service to reinstate what this execution suspended; returns the request ids.

    A subscriber that another execution (another unpaid invoice) also holds suspended stays suspended.
    """
    now = deps.clock.now()
    wanted = list(subscriber_ids)
    still_held = await repo.held_elsewhere(session, execution.tenant_id, wanted, excluding=execution.id)
    ids = []
    for subscriber_id in wanted:
        if subscriber_id in still_held:
            continue
        event = request(SubscriberReinstatementRequested, execution, subscriber_id, reason=reason, now=now,
                        salt=now.isoformat())  # fmt: skip
        await deps.events.add(session, event, tenant_id=execution.tenant_id)
        ids.append(event.request_id)
    return ids
