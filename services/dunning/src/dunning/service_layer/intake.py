"""From an overdue invoice to an execution: now if its campaign's trigger day has come, else on a later check."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.billing import InvoiceOverdue
from bss_contracts.events.dunning import DunningStarted
from bss_runtime import context
from dunning.adapters import repository as repo
from dunning.domain import execution as machine
from dunning.domain.selection import choose_campaign, rejections, zone_for
from dunning.service_layer.deps import Deps

log = logging.getLogger(__name__)


async def record_overdue(session: AsyncSession, deps: Deps, tenant_id: str, event: InvoiceOverdue) -> str | None:
    """Keep billing's overdue invoice and start its execution if it is due; returns the execution id."""
    invoice = await repo.upsert_overdue_invoice(
        session,
        {
            "tenant_id": tenant_id, "invoice_id": event.invoice_id, "invoice_number": event.invoice_number,
            "customer_id": event.customer_id, "subscriber_id": event.subscriber_id,
            "partner_id": event.partner_id, "currency": event.currency, "total_minor": event.total_minor,
            "balance_minor": event.balance_minor, "due_date": event.due_date,
            "next_check_at": deps.clock.now(),
        },
    )  # fmt: skip
    if invoice.status != "overdue" or invoice.execution_id is not None:
        return None  # paid or voided since, or already in collections: a repeated overdue notice changes nothing
    return await evaluate(session, deps, invoice)


async def check_next_invoice(deps: Deps) -> bool:
    """Look again at one overdue invoice whose check is due (a campaign's trigger day, or the daily re-check)."""
    async with deps.database.transaction() as session:
        invoice = await repo.claim_invoice_to_check(session, deps.clock.now())
        if invoice is None:
            return False
        # A new business flow: the execution and all its steps' events share this correlation id.
        with context.caused_by(correlation=uuid.uuid4(), causation=None, tenant=invoice.tenant_id):
            await evaluate(session, deps, invoice)
    return True


async def evaluate(session: AsyncSession, deps: Deps, invoice: repo.InvoiceRecord) -> str | None:
    """Start the winning campaign if its day has come; otherwise note when to look again, and why."""
    now = deps.clock.now()
    tenant = invoice.tenant_id
    customer = await repo.get_customer(session, tenant, invoice.customer_id)
    status = await repo.subscriber_status(session, tenant, invoice.subscriber_id) if invoice.subscriber_id else None
    campaigns = await repo.list_campaigns(session, tenant, active=True)
    zone = zone_for(customer, None, deps.default_timezone)
    candidates = [c.candidate() for c in campaigns]
    choice = choose_campaign(candidates, invoice.debt(), customer, status, zone)
    if choice is None:
        rejected = rejections(candidates, invoice.debt(), customer, status)
        note = "no active campaign matches" + "".join(f"; {name}: {why}" for name, why in rejected.items())
        await repo.update_invoice(session, tenant, invoice.invoice_id, next_check_at=now + deps.intake_recheck,
                                  check_note=note)  # fmt: skip
        return None
    campaign = next(c for c in campaigns if c.id == choice.campaign_id)
    if choice.starts_at > now:
        note = f"campaign {campaign.name} starts {choice.starts_at.isoformat()}"
        await repo.update_invoice(session, tenant, invoice.invoice_id, next_check_at=choice.starts_at,
                                  check_note=note)  # fmt: skip
        return None
    return await start_execution(session, deps, invoice, campaign, now)


async def start_execution(
    session: AsyncSession,
    deps: Deps,
    invoice: repo.InvoiceRecord,
    campaign: repo.CampaignRecord,
    now: datetime,
) -> str | None:
    tenant = invoice.tenant_id
    customer = await repo.get_customer(session, tenant, invoice.customer_id)
    plan = campaign.plan()
    zone = zone_for(customer, plan.exclusions, deps.default_timezone)
    progress = machine.start(plan, now, zone)
    execution_id = str(uuid.uuid4())
    correlation = context.correlation_id.get()
    inserted = await repo.insert_execution(
        session,
        {
            "id": execution_id, "tenant_id": tenant, "campaign_id": campaign.id, "campaign_name": campaign.name,
            "invoice_id": invoice.invoice_id, "customer_id": invoice.customer_id,
            "subscriber_id": invoice.subscriber_id, "status": progress.status, "current_step": 0,
            "total_steps": plan.total_steps, "retry_count": 0, "plan": plan.model_dump(mode="json"),
            "currency": invoice.currency, "initial_outstanding_minor": invoice.balance_minor,
            "outstanding_minor": invoice.balance_minor, "recovered_minor": 0, "started_at": now,
            "next_action_at": progress.next_action_at,
            "correlation_id": str(correlation) if correlation else None,
        },
    )  # fmt: skip
    if not inserted:
        log.info("invoice already has an active execution", extra={"invoice_id": invoice.invoice_id})
        return None
    await repo.update_invoice(session, tenant, invoice.invoice_id, execution_id=execution_id, next_check_at=None,
                              check_note=None)  # fmt: skip
    await deps.events.add(
        session,
        DunningStarted(
            execution_id=execution_id, campaign_id=campaign.id, invoice_id=invoice.invoice_id,
            customer_id=invoice.customer_id, subscriber_id=invoice.subscriber_id, campaign_name=campaign.name,
            outstanding_minor=invoice.balance_minor, currency=invoice.currency, total_steps=plan.total_steps,
            next_action_at=progress.next_action_at, started_at=now,
        ),
        tenant_id=tenant,
    )  # fmt: skip
    return execution_id
