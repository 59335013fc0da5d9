"""The billing service's bulk kinds, run by the shared engine (`bss_runtime.bulk`) one chunk at a time.

Every item goes through the same use case as its HTTP route, inside a savepoint, so one refused item (a rule
says no) leaves no half-done writes and the others go on; the chunk's writes, events and item results commit
together.

- `subscriptions.change_plan` (subscription ids or a filter; `plan_id`, `effective`): `subscriptions.change_plan`,
  with its proration and `SubscriptionPlanChanged` (at once) or a scheduled change (at the cycle end).
- `invoices.void_drafts` (invoice ids or a filter; `reason`): `invoicing.void` of drafts only (no event: nobody
  saw a draft); an issued invoice is a failed item (void it alone, or credit it).
- `credit_notes.issue` (a list of credit notes): `credit_notes.issue_credit_note` each (`CreditNoteIssued`,
  applied to the invoice, the rest kept as credit); the item's result is the note's number.
- `usage.reset` (subscription ids or a filter; `period_start` optional): the counters of the subscription's
  open cycle are reset: its usage counts from the next 15-minute edge on (`usage_resets`), when it is closed,
  re-billed and shown. `period_start`, when given, must be that open cycle's start (a closed cycle was billed).

Roles: admin and finance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as billing_repo
from billing.adapters import subscriptions_repo
from billing.bulk import adapters
from billing.bulk.domain import reset_counts_from
from billing.domain.calendar import billing_cycle
from billing.service_layer import credit_notes, invoicing, subscriptions
from billing.service_layer.deps import Deps
from bss_contracts.events.billing import BulkOperationCompleted
from bss_runtime.auth import Role
from bss_runtime.bulk import BulkEngine, Handler, Item, ItemResult, Kind, Operation
from bss_runtime.bulk_api import announcer
from bss_runtime.errors import DomainError
from bss_runtime.outbox import EventWriter

CHANGE_PLAN = "subscriptions.change_plan"
VOID_DRAFTS = "invoices.void_drafts"
ISSUE_CREDIT_NOTES = "credit_notes.issue"
RESET_USAGE = "usage.reset"
ROLES = (Role.FINANCE,)

announce = announcer(BulkOperationCompleted)

# One item inside the chunk's transaction: its result, or a DomainError whose message is the item's error.
Step = Callable[[AsyncSession, Operation, Item], Any]


def _each(step: Step) -> Handler:
    """A handler running `step` per item in a savepoint: a refused item rolls back alone and is `failed`."""

    async def handle(
        session: AsyncSession, events: EventWriter, op: Operation, items: Sequence[Item]
    ) -> list[ItemResult]:
        out: list[ItemResult] = []
        for item in items:
            try:
                async with session.begin_nested():
                    result = await step(session, op, item)
            except DomainError as exc:
                out.append(ItemResult(error=str(exc), column=exc.field))
                continue
            out.append(ItemResult(result=None if result is None else str(result)[:255]))
        return out

    return handle


def kinds(deps: Deps) -> list[Kind]:
    async def change_plan(session: AsyncSession, op: Operation, item: Item) -> str:
        changed = await subscriptions.change_plan(
            session,
            deps,
            op.tenant_id,
            item.ref,
            plan_id=str(op.params["plan_id"]),
            effective=op.params.get("effective"),
        )
        scheduled = await subscriptions.scheduled_change(session, op.tenant_id, item.ref)
        return f"scheduled {scheduled.effective_at.isoformat()}" if scheduled is not None else str(changed.plan_id)

    async def void_draft(session: AsyncSession, op: Operation, item: Item) -> str:
        invoice = await invoicing.get(session, op.tenant_id, item.ref, lock=True)
        if invoice.status != "draft":
            raise DomainError(f"invoice {invoice.number} is {invoice.status}: only drafts are voided in bulk")
        voided = await invoicing.void(session, deps, op.tenant_id, item.ref, str(op.params["reason"]))
        return str(voided.status)

    async def issue_credit_note(session: AsyncSession, op: Operation, item: Item) -> str:
        note = await credit_notes.issue_credit_note(
            session, deps, op.tenant_id, credit_notes.CreditNoteIn(**item.payload)
        )
        return str(note.number)

    async def reset_usage(session: AsyncSession, op: Operation, item: Item) -> str:
        subscription = await subscriptions_repo.get_subscription(session, op.tenant_id, item.ref, lock=True)
        if subscription is None:
            raise DomainError(f"subscription {item.ref} not found")
        if subscription.status != "active":
            raise DomainError(f"the subscription is {subscription.status}: only an open cycle is reset")
        customer = await billing_repo.get_customer(session, op.tenant_id, subscription.customer_id)
        tz = deps.zone(customer.timezone if customer is not None else None)
        cycle = billing_cycle(subscription.start_date, subscription.next_cycle)
        wanted = op.params.get("period_start")
        if wanted is not None and date.fromisoformat(str(wanted)) != cycle.start:
            raise DomainError(
                f"the cycle starting {wanted} is not the open one: the open cycle starts {cycle.start}",
                field="period_start",
            )
        now = deps.clock.now()
        counts_from = min(max(reset_counts_from(now), cycle.starts_at(tz)), cycle.ends_at(tz))
        await adapters.insert_usage_resets(
            session, op.tenant_id, [(subscription.id, cycle.start, counts_from)], reset_at=now,
            requested_by=op.requested_by, operation_id=op.id,
        )  # fmt: skip
        return f"{cycle.start} from {counts_from.isoformat()}"

    return [
        Kind(CHANGE_PLAN, _each(change_plan), roles=ROLES, description="Move subscriptions to another plan"),
        Kind(VOID_DRAFTS, _each(void_draft), roles=ROLES, description="Void draft invoices"),
        Kind(ISSUE_CREDIT_NOTES, _each(issue_credit_note), roles=ROLES, description="Issue credit notes from a list"),
        Kind(RESET_USAGE, _each(reset_usage), roles=ROLES, description="Reset the usage counters of the open cycle"),
    ]


def register(engine: BulkEngine, deps: Deps) -> None:
    for kind in kinds(deps):
        engine.register(kind)
