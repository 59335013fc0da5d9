"""Rules evaluated on the relevant events, not only on their schedule.

The consumer calls `events_applied` in the transaction that applies a batch of events (sessions, subscriptions,
invoices, SLA breaches): it raises the trigger counter of every rule kind those events can move, for each tenant
in the batch (`alert_triggers`; one upsert). An evaluator finds a rule due when its kind's counter is ahead of
the one it was last evaluated at (`repository.claim_due_rule`), at most once per ALERT_EVENT_GAP_SECONDS, and
evaluates it exactly as on its schedule: claimed with `FOR UPDATE SKIP LOCKED`, the counter it saw stored with
the outcome in one transaction, so two replicas evaluate it once. Events committed while it is being evaluated
leave the counter ahead again, so their effect is evaluated next time: none is missed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from reporting.alerts.adapters.repository import raise_triggers
from reporting.alerts.domain.rules import MOVED_BY, EventSource


async def events_applied(session: AsyncSession, tenants: Iterable[str], source: EventSource) -> None:
    await raise_triggers(session, [(tenant, kind.value) for tenant in set(tenants) for kind in MOVED_BY[source]])
