"""Invoice, payment, credit note, usage, subscription and SLA events (produced by the billing service).

Amounts are integer minor units of `currency` (ISO 4217).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bss_contracts import topics
from bss_contracts.envelope import DomainEvent
from bss_contracts.events.bulk import BulkOperationOutcome
from bss_contracts.money import Currency


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str
    kind: Literal["subscription", "usage_overage", "usage_adjustment", "one_off", "credit", "proration"] = (
        "subscription"
    )
    quantity: float = 1
    unit_price_minor: int
    amount_minor: int
    tax_minor: int = 0


class _InvoiceEvent(DomainEvent):
    topic = topics.INVOICES
    key_field = "invoice_id"

    invoice_id: str
    invoice_number: str
    customer_id: str
    subscriber_id: str | None = None  # the service the invoice bills, when it bills one
    partner_id: str | None = None
    billing_country: str | None = None
    currency: Currency


class InvoiceIssued(_InvoiceEvent):
    event_type = "bss.billing.invoice.issued"

    subscription_id: str | None = None
    issue_date: date
    due_date: date
    period_start: date | None = None
    period_end: date | None = None
    lines: tuple[InvoiceLine, ...]
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    balance_minor: int = Field(description="Amount still owed when issued (credits may apply at once)")
    issued_at: AwareDatetime


class InvoiceOverdue(_InvoiceEvent):
    event_type = "bss.billing.invoice.overdue"

    due_date: date
    total_minor: int
    balance_minor: int
    days_past_due: int = Field(ge=1)
    detected_at: AwareDatetime


class InvoicePaid(_InvoiceEvent):
    event_type = "bss.billing.invoice.paid"

    total_minor: int
    paid_at: AwareDatetime


class InvoiceVoided(_InvoiceEvent):
    event_type = "bss.billing.invoice.voided"

    reason: str
    balance_minor: int = Field(description="Balance that was left when voided")
    voided_at: AwareDatetime


class PaymentReceived(DomainEvent):
    """A payment, or the part of it, applied to one invoice; an unapplied rest is kept as customer credit."""

    event_type = "bss.billing.payment.received"
    topic = topics.INVOICES
    key_field = "invoice_id"

    payment_id: str
    customer_id: str
    invoice_id: str | None = None
    amount_minor: int = Field(gt=0, description="The whole payment")
    applied_minor: int = Field(ge=0, description="The part applied to invoice_id")
    unapplied_minor: int = Field(ge=0, description="The rest, kept as customer credit")
    currency: Currency
    invoice_balance_minor: int | None = Field(default=None, description="The invoice's balance afterwards")
    method: str | None = None
    reference: str | None = None
    received_at: AwareDatetime

    def key(self) -> str:
        return self.invoice_id or self.customer_id


class CreditNoteIssued(DomainEvent):
    event_type = "bss.billing.credit-note.issued"
    topic = topics.INVOICES
    key_field = "invoice_id"

    credit_note_id: str
    credit_note_number: str
    customer_id: str
    invoice_id: str | None = None
    kind: Literal["manual", "sla"]
    amount_minor: int = Field(gt=0)
    applied_minor: int = Field(ge=0, description="The part applied to invoice_id's balance")
    currency: Currency
    reason: str
    sla_breach_id: str | None = None
    invoice_balance_minor: int | None = None
    issued_at: AwareDatetime

    def key(self) -> str:
        return self.invoice_id or self.customer_id


class UsageAggregated(DomainEvent):
    """Usage of one subscription in one billing period; `final` once the period is closed and billed."""

    event_type = "bss.billing.usage.aggregated"
    topic = topics.USAGE
    key_field = "subscriber_id"

    subscription_id: str
    subscriber_id: str
    customer_id: str
    username: str
    period_start: date
    period_end: date
    input_octets: int = Field(ge=0)
    output_octets: int = Field(ge=0)
    total_octets: int = Field(ge=0)
    included_octets: int | None = Field(ge=0, description="The plan's allowance; None for unlimited")
    overage_octets: int = Field(ge=0)
    overage_amount_minor: int = Field(ge=0)
    currency: Currency
    final: bool
    invoice_id: str | None = None
    aggregated_at: AwareDatetime


class _SubscriptionEvent(DomainEvent):
    """A change of one subscription and of its monthly recurring revenue (MRR).

    `mrr_before_minor` / `mrr_after_minor` are the subscription's monthly recurring amount just before and just
    after `effective_at`: the plan's recurring price, tax excluded, without usage or one-off charges, in integer
    minor units of `currency`, normalised to one month (a plan billed every N months counts price / N, rounded
    half to even to the minor unit). The tenant is the envelope's `tenant_id`. Events of one customer share the
    record key `customer_id`, so a consumer sees a customer's subscriptions in the order they happened.
    `backfilled` marks events written afterwards for subscriptions that existed before these events did.
    """

    topic = topics.SUBSCRIPTIONS
    key_field = "customer_id"

    subscription_id: str
    customer_id: str
    subscriber_id: str
    username: str = Field(description="The subscriber's RADIUS username")
    plan_id: str = Field(description="The plan in effect after the event")
    currency: Currency
    billing_interval_months: int = Field(default=1, ge=1, description="The plan's billing cycle, in months")
    mrr_before_minor: int = Field(ge=0, description="Monthly recurring amount just before, tax excluded")
    mrr_after_minor: int = Field(ge=0, description="Monthly recurring amount just after, tax excluded")
    effective_at: AwareDatetime = Field(description="When the change takes effect (UTC)")
    backfilled: bool = False


class SubscriptionStarted(_SubscriptionEvent):
    """A subscription began (mrr_before_minor is 0). A customer whose earlier subscriptions ended and who
    starts a new one is a win-back: consumers see it as a Started after that customer's Ended events."""

    event_type = "bss.billing.subscription.started"

    start_date: date = Field(description="The first day of the first billing cycle (customer's time zone)")
    plan_price_minor: int = Field(ge=0, description="The plan's price per billing cycle, tax excluded")


class SubscriptionPlanChanged(_SubscriptionEvent):
    """The subscription moved from `previous_plan_id` to `plan_id` at `effective_at`: at once (an upgrade, with
    proration on the next invoice) or at the end of a billing cycle (a downgrade, by default)."""

    event_type = "bss.billing.subscription.plan-changed"

    previous_plan_id: str
    timing: Literal["now", "period_end"]
    requested_at: AwareDatetime = Field(description="When the change was asked for")
    plan_price_minor: int = Field(ge=0, description="The new plan's price per billing cycle, tax excluded")
    previous_plan_price_minor: int = Field(ge=0)


class SubscriptionCanceled(_SubscriptionEvent):
    """The subscription's end was scheduled; its MRR is unchanged until it ends (mrr_after = mrr_before).
    `effective_at` is when it was canceled; `ends_at` when it will end."""

    event_type = "bss.billing.subscription.canceled"

    cause: Literal["canceled", "subscriber_terminated"]
    ends_at: AwareDatetime = Field(description="The instant the service ends (start of its end date)")
    last_day: date = Field(description="The last day of service, inclusive (customer's time zone)")


class SubscriptionEnded(_SubscriptionEvent):
    """The subscription ended at `effective_at` (mrr_after_minor is 0)."""

    event_type = "bss.billing.subscription.ended"

    last_day: date = Field(description="The last day of service, inclusive (customer's time zone)")


BreachSeverity = Literal["minor", "major", "critical"]


class _SlaEvent(DomainEvent):
    topic = topics.SLA
    key_field = "instance_id"

    breach_id: str
    instance_id: str
    customer_id: str


class SlaBreachDetected(_SlaEvent):
    event_type = "bss.billing.sla.breach-detected"

    sla_definition_id: str
    service_id: str | None = None  # the subscriber the SLA covers
    service_name: str
    breach_type: Literal["availability"] = "availability"
    severity: BreachSeverity
    target_value: float
    actual_value: float
    deviation_percent: float
    period_start: AwareDatetime
    period_end: AwareDatetime
    detected_at: AwareDatetime
    credit_amount_minor: int = Field(ge=0)
    currency: Currency


class SlaBreachResolved(_SlaEvent):
    event_type = "bss.billing.sla.breach-resolved"

    resolution: str
    resolved_at: AwareDatetime


class SlaCreditIssued(_SlaEvent):
    event_type = "bss.billing.sla.credit-issued"

    credit_note_id: str
    amount_minor: int = Field(gt=0)
    currency: Currency
    rule: str = Field(description="How the amount was computed, in words")
    issued_at: AwareDatetime


class BulkOperationCompleted(BulkOperationOutcome):
    """A bulk operation of the billing service finished: `state` is completed, completed_with_errors or canceled."""

    event_type = "bss.billing.bulk-operation.completed"
    topic = topics.BILLING_BULK_OPERATIONS
