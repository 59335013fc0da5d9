"""Support ticket events (produced by the support service).

Every event carries the ticket's type, priority and customer (`_TicketEvent`), so that a consumer can report on
tickets from this topic alone. Times are aware UTC; durations are whole seconds of wall-clock time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from bss_contracts import topics
from bss_contracts.envelope import DomainEvent

TicketType = Literal["installation", "fault", "billing", "relocation", "upgrade", "other"]
TicketPriority = Literal["low", "normal", "high", "urgent"]
TicketStatus = Literal["new", "open", "pending_customer", "resolved", "closed", "reopened"]
TicketChannel = Literal["phone", "email", "web", "chat", "field", "monitoring"]
SlaClock = Literal["response", "resolution"]


class _TicketEvent(DomainEvent):
    topic = topics.TICKETS
    key_field = "ticket_id"

    ticket_id: str
    customer_id: str
    ticket_type: TicketType
    priority: TicketPriority


class TicketOpened(_TicketEvent):
    event_type = "bss.support.ticket.opened"

    subject: str
    status: TicketStatus
    channel: TicketChannel
    service_address: str | None = None
    subscriber_ids: tuple[str, ...] = Field(default=(), description="The affected services (subscribers)")
    device_serials: tuple[str, ...] = ()
    assignee: str | None = None
    sla_breach_id: str | None = Field(default=None, description="The billing SLA breach (outage) it came from")
    response_due_at: AwareDatetime
    resolution_due_at: AwareDatetime
    opened_at: AwareDatetime


class TicketAssigned(_TicketEvent):
    event_type = "bss.support.ticket.assigned"

    assignee: str | None
    previous_assignee: str | None = None
    assigned_at: AwareDatetime


class TicketFirstResponse(_TicketEvent):
    event_type = "bss.support.ticket.first-response"

    responded_at: AwareDatetime
    response_seconds: int = Field(ge=0, description="From opened to the first response, wall-clock")
    response_due_at: AwareDatetime
    within_sla: bool


class TicketStatusChanged(_TicketEvent):
    event_type = "bss.support.ticket.status-changed"

    previous_status: TicketStatus
    status: TicketStatus
    reason: str | None = None
    changed_at: AwareDatetime


class TicketSlaBreached(_TicketEvent):
    event_type = "bss.support.ticket.sla-breached"

    clock: SlaClock
    due_at: AwareDatetime
    detected_at: AwareDatetime


class TicketResolved(_TicketEvent):
    event_type = "bss.support.ticket.resolved"

    opened_at: AwareDatetime
    resolved_at: AwareDatetime
    resolution_seconds: int = Field(ge=0, description="From opened to resolved, wall-clock")
    resolution_due_at: AwareDatetime
    within_sla: bool


class TicketReopened(_TicketEvent):
    event_type = "bss.support.ticket.reopened"

    reason: str | None = None
    reopened_at: AwareDatetime
