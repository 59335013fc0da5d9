"""Ticket events into the `support_tickets` read model. A ticket's events share its Kafka key, so they come in
order; each is applied once (the consumer's processed-event record). An event for a ticket whose opening was
never seen changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import support as ev
from reporting.adapters.tables import ReadModel

TicketEvent = (
    ev.TicketOpened | ev.TicketAssigned | ev.TicketFirstResponse | ev.TicketStatusChanged | ev.TicketSlaBreached
    | ev.TicketResolved | ev.TicketReopened
)  # fmt: skip


async def ticket_event(session: AsyncSession, rm: ReadModel, tenant_id: str, event: TicketEvent) -> None:
    t = rm.support_tickets
    if isinstance(event, ev.TicketOpened):
        await session.execute(
            insert(t)
            .values(
                tenant_id=tenant_id, ticket_id=event.ticket_id, customer_id=event.customer_id,
                ticket_type=event.ticket_type, priority=event.priority, status=event.status, channel=event.channel,
                assignee=event.assignee, subscriber_ids=list(event.subscriber_ids), sla_breach_id=event.sla_breach_id,
                opened_at=event.opened_at, response_breached=False, resolution_breached=False, reopen_count=0,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "ticket_id"])
        )  # fmt: skip
        return
    values: dict[str, Any] = {"priority": event.priority, "ticket_type": event.ticket_type}
    if isinstance(event, ev.TicketAssigned):
        values["assignee"] = event.assignee
    elif isinstance(event, ev.TicketFirstResponse):
        values |= {"first_response_at": event.responded_at, "response_seconds": event.response_seconds}
    elif isinstance(event, ev.TicketStatusChanged):
        values["status"] = event.status
    elif isinstance(event, ev.TicketSlaBreached):
        values[f"{event.clock}_breached"] = True
    elif isinstance(event, ev.TicketResolved):
        values |= {"resolved_at": event.resolved_at, "resolution_seconds": event.resolution_seconds}
    elif isinstance(event, ev.TicketReopened):
        values |= {"resolved_at": None, "resolution_seconds": None, "reopen_count": t.c.reopen_count + 1}
    await session.execute(
        update(t).where(t.c.tenant_id == tenant_id, t.c.ticket_id == event.ticket_id).values(**values)
    )
