"""Invoice, payment, credit note, usage and SLA events (produced by the billing service).

Amounts are integer minor units of `currency` (ISO 4217).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bss_contracts import topics
from bss_contracts.envelope import DomainEvent
from bss_contracts.money import Currency


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str
    kind: Literal["subscription", "usage_overage", "usage_adjustment", "one_off", "credit"] = "subscription"
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
