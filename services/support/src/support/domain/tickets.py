"""Ticket rules: the lifecycle (which status may follow which), SLA targets by priority and type, and the
clocks' state (due times, pauses, breaches). Pure: no I/O.

Lifecycle::

    new ──▶ open ◀──▶ pending_customer
     │       │              │
     └───────┴──────┬───────┘
                    ▼
                 resolved ──▶ closed
                    │
                    ▼
                 reopened ──▶ open / pending_customer / resolved / closed

`closed` is final. A ticket may be closed from any status (a duplicate, a customer who withdrew). Moving to the
status it already has is refused, like every transition not listed.

The clocks: the response clock runs from opening to the first response by support (a public comment); the
resolution clock from opening to `resolved`. Both count business time in the tenant's calendar; both stop while
the ticket is `pending_customer` (a pause from entering that status to leaving it). A reopened ticket keeps its
opening and its due time: the customer's problem was not solved in time if it comes back after the due time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import get_args

from bss_contracts.events.support import TicketChannel, TicketPriority, TicketStatus, TicketType
from bss_runtime.errors import Conflict
from support.domain.business_calendar import BusinessCalendar, Pause, due_at

TICKET_TYPES: tuple[str, ...] = get_args(TicketType)
PRIORITIES: tuple[str, ...] = get_args(TicketPriority)
STATUSES: tuple[str, ...] = get_args(TicketStatus)
CHANNELS: tuple[str, ...] = get_args(TicketChannel)


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


ALLOWED: Mapping[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.REOPENED, Status.CLOSED}),
    Status.REOPENED: frozenset({Status.OPEN, Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
ACTIVE = frozenset({Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER, Status.REOPENED})


def check_transition(current: str, target: str) -> None:
    """Raises Conflict (409) for a move the lifecycle does not allow."""
    if Status(target) not in ALLOWED[Status(current)]:
        allowed = ", ".join(sorted(ALLOWED[Status(current)])) or "none (closed is final)"
        raise Conflict(f"a {current} ticket cannot become {target} (allowed: {allowed})", field="status")


@dataclass(frozen=True)
class SlaTarget:
    """Business time allowed for the first response and for the resolution."""

    response: timedelta
    resolution: timedelta


# The defaults when a tenant has no policy for a priority (minutes of business time).
DEFAULT_TARGETS: Mapping[str, SlaTarget] = {
    "urgent": SlaTarget(timedelta(minutes=30), timedelta(hours=4)),
    "high": SlaTarget(timedelta(hours=1), timedelta(hours=8)),
    "normal": SlaTarget(timedelta(hours=4), timedelta(hours=24)),
    "low": SlaTarget(timedelta(hours=8), timedelta(hours=40)),
}


def target_for(policies: Mapping[tuple[str, str | None], SlaTarget], priority: str, ticket_type: str) -> SlaTarget:
    """The tenant's policy for (priority, type), else for (priority, any type), else the default."""
    return policies.get((priority, ticket_type)) or policies.get((priority, None)) or DEFAULT_TARGETS[priority]


@dataclass(frozen=True)
class DueTimes:
    response: datetime | None
    resolution: datetime | None


def due_times(
    calendar: BusinessCalendar, opened_at: datetime, target: SlaTarget, pauses: Sequence[Pause] = ()
) -> DueTimes:
    """Both due times from the opening, the target and the pauses (None while a pause is open)."""
    return DueTimes(
        due_at(calendar, opened_at, target.response, pauses), due_at(calendar, opened_at, target.resolution, pauses)
    )


def close_pause(pauses: Sequence[Pause], at: datetime) -> list[Pause]:
    """The pauses with the open one (if any) ended at `at`."""
    return [(start, end if end is not None else at) for start, end in pauses]


def outage_priority(severity: str) -> str:
    """The priority of a ticket opened for an SLA outage, by the breach's severity."""
    return {"critical": "urgent", "major": "high"}.get(severity, "normal")
