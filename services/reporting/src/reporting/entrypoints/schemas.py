"""Response shapes of /billing/reports/*. Amounts: a decimal number in major units of the row's currency
(for reading) next to the exact integer in minor units (`*_minor`, for computing)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from reporting.domain.collections import NextAction, Priority


class BlockedCustomer(BaseModel):
    subscriber_id: str
    username: str | None
    customer_id: str | None
    customer_name: str | None
    email: str | None
    phone: str | None
    suspended_at: datetime
    suspension_reason: str | None
    days_blocked: int
    overdue_invoices: int = Field(
        description="Open invoices billing has declared overdue (its InvoiceOverdue: past the due date in the "
        "customer's time zone); an invoice due yesterday that billing has not yet declared is not counted"
    )
    open_invoices: int = Field(description="Invoices with a balance, due or not")
    currency: str | None = Field(description="Currency of the balance (one row per currency owed)")
    outstanding_balance: float
    outstanding_balance_minor: int
    next_action: NextAction
    priority: Priority
    in_dunning: bool = Field(description="A dunning campaign is running on one of the customer's invoices")


class AgingRowBase(BaseModel):
    currency: str
    invoice_count: int
    total_outstanding: float
    total_outstanding_minor: int
    buckets: dict[str, float] = Field(description="current, 1_30_days, 31_60_days, 61_90_days, over_90_days")
    buckets_minor: dict[str, int]


class PartnerAgingRow(AgingRowBase):
    partner_id: str | None
    partner_name: str | None = Field(description="From the customers service's partner events; null if unknown")


class RegionAgingRow(AgingRowBase):
    region: str | None = Field(description="Billing country (ISO 3166-1 alpha-2)")


class Pagination(BaseModel):
    limit: int
    offset: int
    has_more: bool


class MoneyTotal(BaseModel):
    currency: str
    amount: float
    amount_minor: int


class SlaSummary(BaseModel):
    total_breaches: int
    resolved_breaches: int
    unresolved_breaches: int
    total_credits_issued: list[MoneyTotal] = Field(description="Per currency")


class SlaBreach(BaseModel):
    breach_id: str
    breach_type: str | None
    severity: str | None
    detected_at: datetime
    resolved_at: datetime | None
    resolved: bool
    resolution: str | None
    target_value: float | None
    actual_value: float | None
    deviation_percent: float | None
    period_start: datetime | None
    period_end: datetime | None
    currency: str | None
    credit_amount: float = Field(description="Credit issued for the breach (0 until a credit note is issued)")
    credit_amount_minor: int
    expected_credit_amount: float | None = Field(description="Credit computed when the breach was detected")
    expected_credit_amount_minor: int | None
    instance_id: str
    customer_id: str
    customer_name: str | None
    service_id: str | None
    service_name: str | None
    sla_status: str = Field(description="breached, or resolved")


class SlaBreachReport(BaseModel):
    summary: SlaSummary
    pagination: Pagination
    breaches: list[SlaBreach]


class SessionSummary(BaseModel):
    total_sessions: int
    returned_sessions: int
    total_data_usage_gb: float
    total_bytes: int
    total_input_octets: int
    total_output_octets: int
    total_duration_hours: float
    total_duration_seconds: int
    period_start: datetime
    period_end: datetime


class SessionRecord(BaseModel):
    time: datetime = Field(description="The session's latest accounting record: its stop, else its last update")
    subscriber_id: str | None
    username: str
    session_id: str
    session_key: str
    nas_id: str
    nas_ip_address: str
    framed_ip_address: str | None
    framed_ipv6_address: str | None
    delegated_ipv6_prefix: str | None
    calling_station_id: str | None
    session_start_time: datetime
    session_stop_time: datetime | None
    stopped_by: str | None = Field(description="stop (the NAS's Stop record), nas (NAS reset), null: open")
    session_duration_seconds: int
    session_duration_hours: float
    total_bytes: int
    total_gb: float
    input_octets: int
    output_octets: int
    upload_gb: float
    download_gb: float
    terminate_cause: str | None


class SessionHistory(BaseModel):
    summary: SessionSummary
    pagination: Pagination
    sessions: list[SessionRecord]
