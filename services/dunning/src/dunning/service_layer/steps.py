"""Running due steps: the durable schedule in the database, claimed with row locks.

One step is one transaction: claim the execution (`FOR UPDATE SKIP LOCKED`, so two workers never hold the
same execution), carry out the action (SMTP and webhook I/O happen while the row is locked), then write the
action log row, the outbox events and the execution's new state together. If the process dies before the
commit nothing of the step is recorded and it runs again: an email may then be sent twice (at-least-once at
the SMTP boundary) but with the same Message-ID, because the attempt number did not advance.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.dunning import DunningCompleted, DunningStepExecuted
from bss_runtime import context
from dunning.adapters import repository as repo
from dunning.domain import execution as machine
from dunning.domain.selection import zone_for
from dunning.service_layer.actions import Outcome, Step, perform
from dunning.service_layer.deps import Deps

log = logging.getLogger(__name__)


async def run_next_due_step(deps: Deps) -> bool:
    """Run the step of one due execution, if there is one no other worker holds; False if none is due."""
    async with deps.database.transaction() as session:
        execution = await repo.claim_due_execution(session, deps.clock.now())
        if execution is None:
            return False
        correlation = uuid.UUID(execution.correlation_id) if execution.correlation_id else None
        with context.caused_by(correlation=correlation, causation=None, tenant=execution.tenant_id):
            await run_step(session, deps, execution)
    return True


async def run_step(session: AsyncSession, deps: Deps, execution: repo.ExecutionRecord) -> None:
    now = deps.clock.now()
    tenant = execution.tenant_id
    plan = execution.plan
    customer = await repo.get_customer(session, tenant, execution.customer_id)
    zone = zone_for(customer, plan.exclusions, deps.default_timezone)
    progress = execution.progress

    if (later := machine.postponement(plan, progress, now, zone)) is not None:
        # Suspension or termination due on an excluded day: it waits for the next allowed day.
        await repo.update_execution(session, tenant, execution.id, next_action_at=later)
        log.info("step postponed to an allowed day", extra={"execution_id": execution.id, "until": later})
        return

    invoice = await repo.get_invoice(session, tenant, execution.invoice_id)
    campaign = await repo.get_campaign(session, tenant, execution.campaign_id)
    assert invoice is not None, "an execution always starts from a recorded invoice"
    step = Step(
        execution=execution, invoice=invoice, customer=customer,
        campaign_secret=campaign.webhook_secret if campaign else None, action=plan.action(progress.next_step),
        number=progress.next_step, attempt=progress.attempt, now=now, zone=zone,
    )  # fmt: skip
    try:
        outcome = await perform(session, deps, step)
    except Exception as exc:  # a bug in an action must not leave the execution due forever in a hot loop
        log.exception("step action raised", extra={"execution_id": execution.id, "step": step.number})
        outcome = Outcome("failed", error=f"{type(exc).__name__}: {exc}")

    verdict = machine.after_attempt(plan, progress, outcome.status, now, zone)
    after = verdict.progress
    await repo.insert_action_log(
        session,
        {
            "tenant_id": tenant, "execution_id": execution.id, "step_number": step.number,
            "attempt": step.attempt, "action_type": step.action.type,
            "action_config": step.action.model_dump(mode="json", exclude_none=True),
            "status": verdict.log_status, "result": outcome.result, "error_message": outcome.error,
            "external_id": outcome.external_id, "executed_at": now,
        },
    )  # fmt: skip
    for event in outcome.events:
        await deps.events.add(session, event, tenant_id=tenant)
    await deps.events.add(
        session,
        DunningStepExecuted(
            execution_id=execution.id, campaign_id=execution.campaign_id, invoice_id=execution.invoice_id,
            customer_id=execution.customer_id, subscriber_id=execution.subscriber_id, step_number=step.number,
            action_type=step.action.type, status=verdict.log_status, attempt=step.attempt, error=outcome.error,
            external_id=outcome.external_id, next_action_at=after.next_action_at, executed_at=now,
        ),
        tenant_id=tenant,
    )  # fmt: skip
    suspended = [s for s in execution.suspended_subscriber_ids if s not in outcome.terminated]
    suspended += [s for s in outcome.suspended if s not in suspended]
    await repo.update_execution(
        session, tenant, execution.id, status=after.status, current_step=after.current_step,
        retry_count=after.retry_count, next_action_at=after.next_action_at, suspended_subscriber_ids=suspended,
        completed_at=now if verdict.failed_execution else None,
    )  # fmt: skip
    if verdict.failed_execution:
        await deps.events.add(
            session,
            DunningCompleted(
                execution_id=execution.id, campaign_id=execution.campaign_id, invoice_id=execution.invoice_id,
                customer_id=execution.customer_id, subscriber_id=execution.subscriber_id, outcome="failed",
                outstanding_minor=execution.outstanding_minor, recovered_minor=execution.recovered_minor,
                currency=execution.currency, completed_at=now,
            ),
            tenant_id=tenant,
        )  # fmt: skip
