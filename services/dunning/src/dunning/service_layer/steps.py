"""Running due steps: the durable schedule in the database, claimed with row locks; external calls made with
no lock held, their effect recorded exactly once.

A step that makes no external call (suspend, terminate, custom) is one transaction: claim the execution
(`FOR UPDATE SKIP LOCKED`, so two workers never hold the same execution), decide the outcome, then write the
action log row, the outbox events and the execution's new state together.

A step that calls the outside world (email over SMTP, SMS, webhook) takes three:
1. claim the execution, prepare the call (render the notice, build the webhook body) and record it as an intent
   (`dunning_action_attempts`, state pending, with its idempotency key: the attempt's effect id); move
   `next_action_at` one lease ahead (`ACTION_LEASE_SECONDS`) so that no other worker claims the execution while
   the call runs; commit, which releases the row lock;
2. make the call, in no transaction: a slow SMTP server or webhook receiver holds no lock, and a payment that
   arrives meanwhile is applied at once;
3. lock the execution again and record the outcome: the intent done, the log row, the outbox events and the new
   state, together. If the execution ended meanwhile (paid, voided, canceled), the call is still logged with
   its notification events, but the execution is left as it is.

If the process dies between 1 and 3, the intent stays pending and the execution is due again when the lease
ends: the next claim finds the intent and makes the same call again, with the same request and idempotency key
(the webhook's `Idempotency-Key` and `X-Dunning-Delivery-Id`, the email's Message-ID), then records its outcome
once. The receiver can drop the repeat; the step's effects inside this system (log row, events, state) are
recorded exactly once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.dunning import DunningCompleted, DunningStepExecuted
from bss_runtime import context
from dunning.adapters import repository as repo
from dunning.domain import execution as machine
from dunning.domain.selection import zone_for
from dunning.service_layer.actions import Call, Channel, Outcome, Step, call, prepare
from dunning.service_layer.deps import Deps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingCall:
    """A call recorded as an intent and committed, to be made with no transaction open."""

    step: Step
    call: Call


async def run_next_due_step(deps: Deps) -> bool:
    """Run the step of one due execution, if there is one no other worker holds; False if none is due."""
    async with deps.database.transaction() as session:
        execution = await repo.claim_due_execution(session, deps.clock.now())
        if execution is None:
            return False
        correlation = uuid.UUID(execution.correlation_id) if execution.correlation_id else None
        with context.caused_by(correlation=correlation, causation=None, tenant=execution.tenant_id):
            pending = await begin_step(session, deps, execution)
    if pending is None:
        return True
    with context.caused_by(correlation=correlation, causation=None, tenant=execution.tenant_id):
        outcome = await _make(deps, pending)
        async with deps.database.transaction() as session:
            await finish_call(session, deps, pending, outcome)
    return True


async def begin_step(session: AsyncSession, deps: Deps, execution: repo.ExecutionRecord) -> PendingCall | None:
    """Run a step that makes no external call to its end; for one that does, record the intent (or find the one
    a crashed run left) and return the call to make once this transaction is committed."""
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
        return None

    invoice = await repo.get_invoice(session, tenant, execution.invoice_id)
    campaign = await repo.get_campaign(session, tenant, execution.campaign_id)
    assert invoice is not None, "an execution always starts from a recorded invoice"
    step = Step(
        execution=execution, invoice=invoice, customer=customer,
        campaign_secret=campaign.webhook_secret if campaign else None, action=plan.action(progress.next_step),
        number=progress.next_step, attempt=progress.attempt, now=now, zone=zone,
    )  # fmt: skip
    intent = await repo.pending_intent(session, tenant, execution.id, step.number, step.attempt)
    prepared: Outcome | Call
    if intent is not None:
        # A call of this attempt was started and its outcome never recorded: the same call again.
        log.warning("repeating a call whose outcome was not recorded", extra={"execution_id": execution.id,
                    "step": step.number, "attempt": step.attempt, "calls": intent.calls})  # fmt: skip
        prepared = Call(cast(Channel, intent.action_type), intent.idempotency_key, intent.request)
    else:
        try:
            prepared = await prepare(session, deps, step)
        except Exception as exc:  # a bug in an action must not leave the execution due forever in a hot loop
            log.exception("step action raised", extra={"execution_id": execution.id, "step": step.number})
            prepared = Outcome("failed", error=f"{type(exc).__name__}: {exc}")
    if isinstance(prepared, Outcome):
        await record_outcome(session, deps, execution, step, prepared)
        return None
    await repo.record_intent(
        session,
        {
            "tenant_id": tenant, "execution_id": execution.id, "step_number": step.number,
            "attempt": step.attempt, "action_type": prepared.channel, "idempotency_key": prepared.key,
            "request": prepared.request, "created_at": now,
        },
    )  # fmt: skip
    await repo.update_execution(session, tenant, execution.id, next_action_at=now + deps.action_lease)
    return PendingCall(step, prepared)


async def _make(deps: Deps, pending: PendingCall) -> Outcome:
    try:
        return await call(deps, pending.step, pending.call)
    except Exception as exc:  # as above: recorded as a failed attempt, not retried in a hot loop
        log.exception("step call raised", extra={"execution_id": pending.step.execution.id})
        return Outcome("failed", error=f"{type(exc).__name__}: {exc}")


async def finish_call(session: AsyncSession, deps: Deps, pending: PendingCall, outcome: Outcome) -> None:
    """Record the outcome of a call made outside the transaction that recorded its intent."""
    step = pending.step
    tenant, execution_id = step.execution.tenant_id, step.execution.id
    execution = await repo.get_execution(session, tenant, execution_id, for_update=True)
    assert execution is not None, "executions are never deleted"
    await repo.record_call_outcome(
        session, tenant, pending.call.key, outcome="succeeded" if outcome.status == "succeeded" else "failed",
        finished_at=deps.clock.now(),
    )  # fmt: skip
    progress = execution.progress
    still_due = progress.active and (progress.next_step, progress.attempt) == (step.number, step.attempt)
    if not still_due:
        log.info("the execution moved on during the call", extra={"execution_id": execution_id,
                 "status": execution.status, "step": step.number})  # fmt: skip
    await record_outcome(session, deps, execution, step, outcome, advance=still_due)


async def record_outcome(
    session: AsyncSession,
    deps: Deps,
    execution: repo.ExecutionRecord,
    step: Step,
    outcome: Outcome,
    *,
    advance: bool = True,
) -> None:
    """The step's log row and events, and (if `advance`) the execution's next state, in the caller's transaction."""
    tenant = execution.tenant_id
    now = step.now
    if advance:
        verdict = machine.after_attempt(execution.plan, execution.progress, outcome.status, now, step.zone)
        log_status: machine.LogStatus = verdict.log_status
    else:  # the execution ended during the call: the attempt is logged as it went
        log_status = outcome.status
    await repo.insert_action_log(
        session,
        {
            "tenant_id": tenant, "execution_id": execution.id, "step_number": step.number,
            "attempt": step.attempt, "action_type": step.action.type,
            "action_config": step.action.model_dump(mode="json", exclude_none=True),
            "status": log_status, "result": outcome.result, "error_message": outcome.error,
            "external_id": outcome.external_id, "executed_at": now,
        },
    )  # fmt: skip
    for event in outcome.events:
        await deps.events.add(session, event, tenant_id=tenant)
    if not advance:
        return
    after = verdict.progress
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
