"""The outage policy: billing's SLA breach (an outage that broke a customer service's SLA) opens a fault ticket
for the affected customer, once.

Once twice over: the consumer's processed-event record makes a redelivered event a no-op, and the unique key
(tenant, sla_breach_id) makes a breach reported again under a new event id, or handled by a second consumer
group (a second deployment), open no second ticket (`INSERT ... ON CONFLICT DO NOTHING`, no events then).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.billing import SlaBreachDetected
from support.adapters import repository as repo
from support.domain.tickets import outage_priority
from support.service_layer.deps import SupportDeps
from support.service_layer.tickets import NewTicket, open_ticket

SEVERITY_RANK = {"minor": 0, "major": 1, "critical": 2}
ACTOR = "outage-policy"


async def breach_detected(
    session: AsyncSession, deps: SupportDeps, tenant_id: str, breach: SlaBreachDetected
) -> str | None:
    """The ticket opened for this breach, or None (policy off, below its severity, or already opened)."""
    enabled, min_severity = await repo.outage_policy(session, tenant_id)
    if not enabled or SEVERITY_RANK[breach.severity] < SEVERITY_RANK[min_severity]:
        return None
    subject = (
        f"Outage: {breach.service_name} at {breach.actual_value:.2f}% availability (SLA {breach.target_value:.2f}%)"
    )
    new = NewTicket(
        ticket_type="fault", subject=subject[:300], customer_id=breach.customer_id,
        priority=outage_priority(breach.severity), channel="monitoring",
        description=f"Opened by the outage policy for SLA breach {breach.breach_id} ({breach.severity}), "
        f"period {breach.period_start.isoformat()} to {breach.period_end.isoformat()}.",
        subscriber_ids=(breach.service_id,) if breach.service_id else (), sla_breach_id=breach.breach_id,
    )  # fmt: skip
    ticket_id: str | None = await open_ticket(
        session, deps, tenant_id, ACTOR, new, opened_at=breach.detected_at, from_outage=True
    )
    return ticket_id
