"""What each kind of step does. An action returns its outcome; it never raises for a failed delivery.

suspend/terminate/custom only write events: `prepare` returns their `Outcome` at once. email/sms/webhook talk
to the outside world: `prepare` returns the `Call` to make (everything it sends, rendered, with its idempotency
key), which the caller records as an intent and commits; `call` then makes it with no transaction open and
returns the outcome (steps.py). A `Call` is plain JSON, so a call repeated after a crash is rebuilt from the
recorded intent and sends the same bytes: the same Message-ID and Date for an email, the same body and
`Idempotency-Key` for a webhook. Every effect that goes through Kafka is an event the caller writes to the
outbox in the same transaction as the step's log row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import DomainEvent
from bss_contracts.events.customers import SubscriberSuspensionRequested, SubscriberTerminationRequested
from bss_contracts.events.dunning import NotificationRequested
from bss_runtime.delivery import DeliveryFailed
from dunning.adapters import repository as repo
from dunning.adapters.mailer import build_email
from dunning.domain.campaigns import Action
from dunning.domain.execution import AttemptOutcome
from dunning.domain.notices import Rendered, TemplateProblem, notice_context, render, template_for
from dunning.domain.selection import CustomerFacts, days_past_due
from dunning.service_layer.deps import Deps, stable_id
from dunning.service_layer.subscribers import request

# Subscribers in these states (as far as dunning knows) are not asked to be suspended / terminated.
NOT_SUSPENDABLE = frozenset({"pending", "suspended", "terminated"})
NOT_TERMINABLE = frozenset({"terminated"})


@dataclass(frozen=True)
class Step:
    """One attempt of one step of one execution, with what it needs to know."""

    execution: repo.ExecutionRecord
    invoice: repo.InvoiceRecord
    customer: CustomerFacts | None
    campaign_secret: str | None
    action: Action
    number: int
    attempt: int
    now: datetime
    zone: ZoneInfo

    @property
    def effect_id(self) -> str:
        """Stable per (execution, step, attempt): a notice sent twice carries the same id."""
        return stable_id(self.execution.id, self.number, self.attempt)


@dataclass(frozen=True)
class Outcome:
    status: AttemptOutcome
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    external_id: str | None = None
    events: tuple[DomainEvent, ...] = ()
    suspended: tuple[str, ...] = ()
    terminated: tuple[str, ...] = ()


def failed(error: str, **result: Any) -> Outcome:
    return Outcome("failed", result=result, error=error)


Channel = Literal["email", "sms", "webhook"]


@dataclass(frozen=True)
class Call:
    """An external call of one attempt of a step, as recorded before it is made."""

    channel: Channel
    key: str  # the idempotency key: the attempt's effect id
    request: dict[str, Any]  # JSON: everything the call sends


async def prepare(session: AsyncSession, deps: Deps, step: Step) -> Outcome | Call:
    """The outcome of a step that makes no external call, or the call an email/SMS/webhook step makes."""
    kind = step.action.type
    if kind == "email":
        return _email(deps, step)
    if kind == "sms":
        return _sms(step)
    if kind == "suspend_service":
        return await _suspend(session, step)
    if kind == "terminate_service":
        return await _terminate(session, step)
    if kind == "webhook":
        return _webhook(step)
    return Outcome("succeeded", result={"config": step.action.config})  # custom: the step event is the hook


async def call(deps: Deps, step: Step, made: Call) -> Outcome:
    """Make `made` (no transaction is open: nothing is locked while the outside world answers)."""
    if made.channel == "email":
        return await _send_email(deps, step, made)
    if made.channel == "sms":
        return await _send_sms(deps, step, made)
    return await _post_webhook(deps, step, made)


def _render(step: Step) -> Rendered:
    e, i, c = step.execution, step.invoice, step.customer
    context = notice_context(
        customer_name=c.name if c else "customer", customer_id=e.customer_id, email=c.email if c else None,
        phone=c.phone if c else None, invoice_id=i.invoice_id, invoice_number=i.invoice_number,
        currency=e.currency, total_minor=i.total_minor, balance_minor=e.outstanding_minor, due_date=i.due_date,
        days_past_due=days_past_due(i.due_date, step.now, step.zone), campaign_name=e.campaign_name,
        step_number=step.number, total_steps=e.total_steps,
    )  # fmt: skip
    return render(template_for(step.action), context)


def _notification(step: Step, channel: str, request: dict[str, Any]) -> NotificationRequested:
    return NotificationRequested(
        notification_id=step.effect_id, customer_id=step.execution.customer_id, channel=channel,  # type: ignore[arg-type]
        recipient=request["recipient"], template=request["template"], subject=request["subject"],
        body=request["text"], invoice_id=step.execution.invoice_id, dunning_execution_id=step.execution.id,
        requested_at=step.now,
    )  # fmt: skip


def _email(deps: Deps, step: Step) -> Outcome | Call:
    if step.customer is None or not step.customer.email:
        return failed(f"no email address known for customer {step.execution.customer_id}")
    try:
        rendered = _render(step)
    except TemplateProblem as exc:
        return failed(f"template {exc}")
    request = {
        "recipient": step.customer.email, "template": rendered.template_name, "subject": rendered.subject,
        "text": rendered.body, "html": rendered.html, "sender": deps.mail_from, "date": step.now.isoformat(),
        "message_id": f"<dunning.{step.effect_id}@{deps.message_id_domain}>",
    }  # fmt: skip
    return Call("email", step.effect_id, request)


async def _send_email(deps: Deps, step: Step, made: Call) -> Outcome:
    r = made.request
    message = build_email(
        sender=r["sender"], recipient=r["recipient"], subject=r["subject"] or "", text=r["text"], html=r["html"],
        message_id=r["message_id"], date=datetime.fromisoformat(r["date"]),
    )  # fmt: skip
    result = {"recipient": r["recipient"], "subject": r["subject"], "message_id": r["message_id"]}
    try:
        await deps.mailer.send(message)
    except DeliveryFailed as exc:
        return failed(str(exc), **result)
    return Outcome("succeeded", result=result, external_id=r["message_id"], events=(_notification(step, "email", r),))


def _sms(step: Step) -> Outcome | Call:
    if step.customer is None or not step.customer.phone:
        return failed(f"no phone number known for customer {step.execution.customer_id}")
    try:
        rendered = _render(step)
    except TemplateProblem as exc:
        return failed(f"template {exc}")
    request = {
        "recipient": step.customer.phone, "template": rendered.template_name, "subject": rendered.subject,
        "text": rendered.body,
    }  # fmt: skip
    return Call("sms", step.effect_id, request)


async def _send_sms(deps: Deps, step: Step, made: Call) -> Outcome:
    r = made.request
    try:
        gateway_id = await deps.sms.send(to=r["recipient"], body=r["text"], message_id=made.key)
    except DeliveryFailed as exc:
        return failed(str(exc), recipient=r["recipient"])
    return Outcome(
        "succeeded", result={"recipient": r["recipient"], "gateway_id": gateway_id},
        external_id=gateway_id or made.key, events=(_notification(step, "sms", r),),
    )  # fmt: skip


async def _targets(session: AsyncSession, step: Step, unwanted: frozenset[str]) -> tuple[list[str], dict[str, str]]:
    """The invoice's subscriber, or (if the invoice bills none) every subscriber of the customer."""
    e = step.execution
    ids = [e.subscriber_id] if e.subscriber_id else None
    known = await repo.subscriber_statuses(session, e.tenant_id, customer_id=e.customer_id, subscriber_ids=ids)
    candidates = ids if ids is not None else list(known)
    return [s for s in candidates if known.get(s) not in unwanted], known


def _reason(step: Step, default: str) -> str:
    reason = step.action.config.get("reason")
    return reason if isinstance(reason, str) and reason else f"{default} (invoice {step.invoice.invoice_number})"


async def _suspend(session: AsyncSession, step: Step) -> Outcome:
    e = step.execution
    targets, known = await _targets(session, step, NOT_SUSPENDABLE)
    # Already suspended by another execution (another unpaid invoice): this one holds the suspension too, so
    # that paying only one of the invoices does not reinstate the subscriber.
    suspended = [s for s, status in known.items() if status == "suspended"]
    joined = sorted(await repo.held_elsewhere(session, e.tenant_id, suspended, excluding=e.id))
    if not targets and not joined:
        return Outcome("skipped", result={"reason": "no active subscriber to suspend", "known_statuses": known})
    reason = _reason(step, "overdue invoice")
    events = tuple(
        request(SubscriberSuspensionRequested, e, s, reason=reason, now=step.now, salt=step.number) for s in targets
    )
    return Outcome(
        "succeeded", result={"requested": targets, "already_suspended": joined, "reason": reason},
        external_id=",".join(r.request_id for r in events)[:500] or None, events=events,
        suspended=(*targets, *joined),
    )  # fmt: skip


async def _terminate(session: AsyncSession, step: Step) -> Outcome:
    targets, known = await _targets(session, step, NOT_TERMINABLE)
    if not targets:
        return Outcome("skipped", result={"reason": "no subscriber to terminate", "known_statuses": known})
    reason = _reason(step, "unpaid invoice")
    events = tuple(
        request(SubscriberTerminationRequested, step.execution, s, reason=reason, now=step.now, salt=step.number)
        for s in targets
    )
    return Outcome(
        "succeeded", result={"requested": targets, "reason": reason},
        external_id=",".join(e.request_id for e in events)[:500], events=events, terminated=tuple(targets),
    )  # fmt: skip


def webhook_body(step: Step) -> bytes:
    e = step.execution
    payload = {
        "event": "dunning.step", "delivery_id": step.effect_id, "execution_id": e.id,
        "campaign_id": e.campaign_id, "campaign_name": e.campaign_name, "invoice_id": e.invoice_id,
        "invoice_number": step.invoice.invoice_number, "customer_id": e.customer_id,
        "subscriber_id": e.subscriber_id, "step_number": step.number, "total_steps": e.total_steps,
        "attempt": step.attempt, "outstanding_minor": e.outstanding_minor, "currency": e.currency,
        "data": step.action.config.get("data", {}), "sent_at": step.now.isoformat(),
    }  # fmt: skip
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _webhook(step: Step) -> Outcome | Call:
    url = str(step.action.config["url"])
    if not step.campaign_secret:
        return failed("the campaign has no webhook_secret to sign with", url=url)
    return Call("webhook", step.effect_id, {"url": url, "body": webhook_body(step).decode()})


async def _post_webhook(deps: Deps, step: Step, made: Call) -> Outcome:
    url = made.request["url"]
    if not step.campaign_secret:  # removed from the campaign since the intent was recorded
        return failed("the campaign has no webhook_secret to sign with", url=url)
    try:
        response = await deps.webhooks.post(
            url, made.request["body"].encode(), secret=step.campaign_secret, delivery_id=made.key
        )
    except DeliveryFailed as exc:
        return failed(str(exc), url=url, tries=exc.tries)
    return Outcome(
        "succeeded", result={"url": url, "status_code": response.status_code, "tries": response.tries},
        external_id=made.key,
    )  # fmt: skip
