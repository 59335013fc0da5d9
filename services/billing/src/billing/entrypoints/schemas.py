"""Request and response bodies of the HTTP API. Money: integer minor units next to an ISO 4217 currency."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Row

from billing.domain.calendar import MeasurementPeriod
from billing.domain.usage import GB
from bss_contracts.money import Currency
from bss_runtime.inputs import Day, Id, Text, Timestamp

Reason = Annotated[str, Text(500)]  # text columns, bounded for sanity
Name = Annotated[str, Text(200)]  # varchar(200) columns
MAX_MINOR = 10**15  # any amount; 500 lines of it and their tax still fit a bigint total
Minor = Annotated[int, Field(ge=0, le=MAX_MINOR)]
Positive = Annotated[int, Field(gt=0, le=MAX_MINOR)]
TaxRate = Annotated[int, Field(ge=0, le=10_000, description="Basis points: 2000 = 20 %")]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4)]


def _last_day(end: date | None) -> date | None:
    return end - timedelta(days=1) if end is not None else None


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- plans and subscriptions ------------------------------------------------------------------------------------


class PlanCreate(BaseModel):
    code: Annotated[str, Text(64), Field(examples=["FIBER-100"])]
    name: Name
    currency: Currency
    price_minor: Minor = Field(description="Price per monthly cycle")
    included_octets: Minor | None = Field(default=None, description="Data allowance per cycle; null: unlimited")
    overage_price_per_gb_minor: Minor = Field(default=0, description="Price per GB (10^9 bytes) beyond it")
    overage_increment_octets: Positive = Field(default=GB, description="Overage is rounded up to this many bytes")
    tax_rate_bp: TaxRate = 0


class PlanOut(_Out):
    id: str
    code: str
    name: str
    currency: str
    price_minor: int
    included_octets: int | None
    overage_price_per_gb_minor: int
    overage_increment_octets: int
    tax_rate_bp: int
    active: bool


class SubscriptionCreate(BaseModel):
    subscriber_id: Id
    plan_id: Id
    start_date: Day | None = Field(default=None, description="Cycle anchor; default: today, customer's zone")


class ScheduledChangeOut(BaseModel):
    plan_id: str
    previous_plan_id: str
    effective_at: datetime = Field(description="When the change takes effect: the end of the current cycle")
    requested_at: datetime


class SubscriptionOut(BaseModel):
    id: str
    subscriber_id: str
    customer_id: str
    plan_id: str
    currency: str
    start_date: date
    last_day: date | None = Field(description="The last day billed, once canceled")
    status: Literal["active", "ended"]
    cycles_closed: int
    next_close_at: datetime | None
    scheduled_change: ScheduledChangeOut | None = Field(
        default=None, description="A plan change waiting for the end of the cycle (a downgrade, by default)"
    )

    @classmethod
    def of(cls, row: Row[Any], scheduled: Row[Any] | None = None) -> SubscriptionOut:
        change = (
            ScheduledChangeOut(
                plan_id=scheduled.to_plan_id,
                previous_plan_id=scheduled.from_plan_id,
                effective_at=scheduled.effective_at,
                requested_at=scheduled.requested_at,
            )
            if scheduled is not None
            else None
        )
        return cls(
            id=row.id, subscriber_id=row.subscriber_id, customer_id=row.customer_id, plan_id=row.plan_id,
            currency=row.currency, start_date=row.start_date, last_day=_last_day(row.end_date), status=row.status,
            cycles_closed=row.next_cycle, next_close_at=row.next_close_at, scheduled_change=change,
        )  # fmt: skip


class CancelIn(BaseModel):
    last_day: Day | None = Field(
        default=None,
        description="The last day of service (customer's zone), any day of a cycle not billed yet; default: the "
        "last day of the current cycle. The last cycle is billed in full",
    )


class PlanChangeIn(BaseModel):
    plan_id: Id
    effective: Literal["now", "period_end"] | None = Field(
        default=None,
        description="now: at once, prorated on the next invoice; period_end: at the end of the current cycle. "
        "Default: now for an upgrade (a higher monthly amount), period_end for a downgrade",
    )


class UsagePeriodOut(BaseModel):
    period_start: date
    period_end: date = Field(description="Last day, inclusive")
    input_octets: int
    output_octets: int
    total_octets: int
    included_octets: int | None
    overage_octets: int
    overage_amount_minor: int
    currency: str
    final: bool = Field(description="Closed and billed; false for the cycle still running")
    invoice_id: str | None
    late_usage_pending: bool = Field(default=False, description="Late usage will be billed on the next invoice")


class UsageOut(BaseModel):
    subscription_id: str
    periods: list[UsagePeriodOut]


# --- invoices ---------------------------------------------------------------------------------------------------


class LineIn(BaseModel):
    description: Reason
    unit_price_minor: Annotated[int, Field(ge=-MAX_MINOR, le=MAX_MINOR)]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)] = Decimal(1)
    kind: Literal["one_off", "subscription", "credit"] = "one_off"
    tax_rate_bp: TaxRate = 0

    @model_validator(mode="after")
    def _sign(self) -> Self:
        if self.kind == "credit" and self.unit_price_minor > 0:
            raise ValueError("a credit line has a negative (or zero) unit price")
        if self.kind != "credit" and self.unit_price_minor < 0:
            raise ValueError("only credit lines have negative unit prices")
        if abs(self.unit_price_minor) * self.quantity > MAX_MINOR:
            raise ValueError(f"the line's amount (unit_price_minor * quantity) must not exceed {MAX_MINOR}")
        return self


class InvoiceCreate(BaseModel):
    customer_id: Id
    currency: Currency
    subscriber_id: Id | None = None
    lines: list[LineIn] = Field(default_factory=list, max_length=500)
    memo: Annotated[str, Text(2000, min_length=0)] | None = None
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] | None = None
    issue: bool = Field(default=False, description="Issue it at once instead of keeping a draft")


class LinesAdd(BaseModel):
    lines: list[LineIn] = Field(min_length=1, max_length=500)


class LineOut(_Out):
    position: int
    kind: str
    description: str
    quantity: Decimal
    unit_price_minor: int
    amount_minor: int
    tax_rate_bp: int
    tax_minor: int


class InvoiceOut(BaseModel):
    id: str
    number: str | None
    status: Literal["draft", "open", "paid", "void"]
    customer_id: str
    subscriber_id: str | None
    subscription_id: str | None
    partner_id: str | None
    billing_country: str | None
    currency: str
    memo: str | None
    period_start: date | None
    period_end: date | None = Field(description="Last day, inclusive")
    issue_date: date | None
    due_date: date | None
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    balance_minor: int
    overdue_reported_at: datetime | None
    issued_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    lines: list[LineOut]

    @classmethod
    def of(cls, row: Row[Any], lines: Sequence[Row[Any]]) -> InvoiceOut:
        return cls(
            id=row.id, number=row.number, status=row.status, customer_id=row.customer_id,
            subscriber_id=row.subscriber_id, subscription_id=row.subscription_id, partner_id=row.partner_id,
            billing_country=row.billing_country, currency=row.currency, memo=row.memo, period_start=row.period_start,
            period_end=_last_day(row.period_end), issue_date=row.issue_date, due_date=row.due_date,
            subtotal_minor=row.subtotal_minor, tax_minor=row.tax_minor, total_minor=row.total_minor,
            balance_minor=row.balance_minor, overdue_reported_at=row.overdue_notified_at, issued_at=row.issued_at,
            paid_at=row.paid_at, voided_at=row.voided_at, void_reason=row.void_reason,
            lines=[LineOut.model_validate(line) for line in lines],
        )  # fmt: skip


class InvoicePage(BaseModel):
    items: list[InvoiceOut]
    total: int


class VoidIn(BaseModel):
    reason: Reason


# --- payments, credit notes, accounts ---------------------------------------------------------------------------


class PaymentCreate(BaseModel):
    amount_minor: Positive
    currency: Currency
    customer_id: Id | None = None
    invoice_id: Id | None = Field(default=None, description="Else: the customer's oldest open invoices")
    method: Annotated[str, Text(50, min_length=0)] | None = None
    reference: Annotated[str, Text(200, min_length=0)] | None = None
    external_id: Annotated[str, Text(200)] | None = Field(
        default=None, description="The payer's id of this payment: posting it again returns the first one"
    )
    received_at: Timestamp | None = None

    @model_validator(mode="after")
    def _who(self) -> Self:
        if self.customer_id is None and self.invoice_id is None:
            raise ValueError("name the invoice or the customer the payment is from")
        return self


class ApplicationOut(_Out):
    invoice_id: str
    amount_minor: int


class PaymentOut(BaseModel):
    id: str
    customer_id: str
    currency: str
    amount_minor: int
    unapplied_minor: int = Field(description="Kept as customer credit in this currency")
    method: str | None
    reference: str | None
    external_id: str | None
    received_at: datetime
    applications: list[ApplicationOut]


class CreditNoteCreate(BaseModel):
    amount_minor: Positive
    currency: Currency
    reason: Reason
    customer_id: Id | None = None
    invoice_id: Id | None = Field(default=None, description="Else: the customer's oldest open invoice")

    @model_validator(mode="after")
    def _who(self) -> Self:
        if self.customer_id is None and self.invoice_id is None:
            raise ValueError("name the invoice or the customer to credit")
        return self


class CreditNoteOut(_Out):
    id: str
    number: str
    customer_id: str
    invoice_id: str | None
    kind: Literal["manual", "sla"]
    amount_minor: int
    applied_minor: int
    currency: str
    reason: str
    sla_breach_id: str | None
    issued_at: datetime


class CurrencyBalance(_Out):
    currency: str
    balance_minor: int


class Receivable(_Out):
    currency: str
    balance_minor: int
    invoice_count: int


class CreditEntryOut(_Out):
    currency: str
    amount_minor: int
    reason: str
    reference_id: str
    created_at: datetime


class AccountOut(BaseModel):
    customer_id: str
    name: str
    partner_id: str | None
    billing_country: str | None
    timezone: str
    credits: list[CurrencyBalance] = Field(description="Unapplied money, per currency (never summed across)")
    receivables: list[Receivable] = Field(description="Open invoice balances, per currency")
    credit_history: list[CreditEntryOut]


# --- SLA --------------------------------------------------------------------------------------------------------


class DefinitionCreate(BaseModel):
    name: Name
    target_percent: Annotated[Decimal, Field(gt=0, lt=100, max_digits=7, decimal_places=4, examples=["99.9"])]
    measurement_period: MeasurementPeriod = "month"
    step_percent: Annotated[Decimal, Field(gt=0, le=100, max_digits=7, decimal_places=4)] = Decimal("0.1")
    credit_percent_per_step: Percent = Decimal(10)
    cap_percent: Percent = Decimal(50)
    major_from_points: Percent = Decimal("0.5")
    critical_from_points: Percent = Decimal(2)

    @model_validator(mode="after")
    def _thresholds(self) -> Self:
        if self.critical_from_points < self.major_from_points:
            raise ValueError("critical_from_points must not be below major_from_points")
        return self


class DefinitionOut(_Out):
    id: str
    name: str
    target_percent: Decimal
    measurement_period: MeasurementPeriod
    step_percent: Decimal
    credit_percent_per_step: Decimal
    cap_percent: Decimal
    major_from_points: Decimal
    critical_from_points: Decimal


class InstanceCreate(BaseModel):
    definition_id: Id
    customer_id: Id
    service_name: Name
    monthly_fee_minor: Minor
    currency: Currency
    subscriber_id: Id | None = Field(default=None, description="The service (subscriber) the SLA covers")
    active_from: Timestamp | None = None


class PeriodStatus(BaseModel):
    period_start: date
    period_end: date
    downtime_seconds: float
    best_possible_percent: float
    target_percent: float
    target_reachable: bool


class InstanceOut(_Out):
    id: str
    definition_id: str
    customer_id: str
    subscriber_id: str | None
    service_name: str
    monthly_fee_minor: int
    currency: str
    active_from: datetime
    current_period: PeriodStatus | None = None


class OutageCreate(BaseModel):
    started_at: Timestamp
    ended_at: Timestamp | None = Field(default=None, description="Null while it is still going on")
    external_id: Annotated[str, Text(200)] | None = Field(
        default=None, description="The monitoring system's id: reporting it again (with an end) ends it"
    )
    description: Annotated[str, Text(2000, min_length=0)] | None = None


class OutageEnd(BaseModel):
    ended_at: Timestamp


class OutageOut(_Out):
    id: str
    instance_id: str
    started_at: datetime
    ended_at: datetime | None
    external_id: str | None
    description: str | None
    reported_by: str


class BreachOut(BaseModel):
    id: str
    instance_id: str
    customer_id: str
    period_start: date
    period_end: date = Field(description="Last day, inclusive")
    severity: Literal["minor", "major", "critical"]
    target_percent: float
    actual_percent: float
    detected_actual_percent: float
    credited_minor: int
    currency: str
    final: bool
    status: Literal["open", "resolved"]
    resolution: str | None
    detected_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> BreachOut:
        return cls(
            id=row.id, instance_id=row.instance_id, customer_id=row.customer_id, period_start=row.period_start,
            period_end=row.period_end - timedelta(days=1), severity=row.severity,
            target_percent=float(row.target_percent), actual_percent=float(row.actual_percent),
            detected_actual_percent=float(row.detected_actual_percent), credited_minor=row.credited_minor,
            currency=row.currency, final=row.final, status=row.status, resolution=row.resolution,
            detected_at=row.detected_at, resolved_at=row.resolved_at,
        )  # fmt: skip


class ResolveIn(BaseModel):
    resolution: Reason


class TriggerOut(BaseModel):
    processed: int = Field(description="Invoices reported, cycles closed, or periods evaluated")


class PlanFitOut(BaseModel):
    subscription_id: str
    subscriber_id: str
    customer_id: str
    period_start: date
    period_end: date = Field(description="Exclusive")
    plan_id: str
    plan_name: str
    currency: str
    price_minor: int = Field(description="The plan's fee per cycle, tax excluded")
    included_octets: int | None
    used_octets: int
    overage_octets: int
    overage_paid_minor: int = Field(description="Overage billed for the cycle, late adjustments included")
    paid_minor: int = Field(description="Fee plus overage, tax excluded")
    effective_price_per_gb_minor: int | None = Field(description="paid / GB used; null without usage")
    advice: Literal["keep", "upgrade", "downgrade"]
    recommended_plan_id: str
    recommended_plan_name: str
    recommended_cost_minor: int = Field(description="What the cycle's usage would have cost on that plan")
    monthly_saving_minor: int
