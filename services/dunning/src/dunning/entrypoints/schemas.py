"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bss_contracts.events.dunning import ActionType
from bss_runtime.inputs import Text
from dunning.adapters import repository as repo
from dunning.domain.campaigns import Action, CampaignSettings, ExclusionRules
from dunning.domain.execution import ExecutionStatus

CampaignCreate = CampaignSettings


class CampaignUpdate(BaseModel):
    """Only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Text(200)] | None = None
    description: Annotated[str, Text(2000, min_length=0)] | None = None
    trigger_after_days: int | None = Field(default=None, ge=0, le=365)
    max_retries: int | None = Field(default=None, ge=0, le=20)
    retry_interval_days: int | None = Field(default=None, ge=0, le=90)
    actions: tuple[Action, ...] | None = Field(default=None, min_length=1, max_length=50)
    exclusion_rules: ExclusionRules | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    is_active: bool | None = None
    webhook_secret: Annotated[str, Text(500, min_length=16)] | None = None


class Amount(BaseModel):
    currency: str
    amount_minor: int


class CampaignStatistics(BaseModel):
    total_executions: int
    active_executions: int
    successful_executions: int = Field(description="Completed: the balance was cleared")
    failed_executions: int
    canceled_executions: int
    recovered: list[Amount] = Field(description="Recovered amount per currency")


class CampaignOut(BaseModel):
    id: str
    name: str
    description: str | None
    trigger_after_days: int
    max_retries: int
    retry_interval_days: int
    actions: tuple[Action, ...]
    exclusion_rules: ExclusionRules
    priority: int
    is_active: bool
    has_webhook_secret: bool
    statistics: CampaignStatistics
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: repo.CampaignRecord, stats: repo.CampaignStatistics | None) -> CampaignOut:
        s = stats or repo.CampaignStatistics()
        return cls(
            id=c.id, name=c.name, description=c.description, trigger_after_days=c.trigger_after_days,
            max_retries=c.max_retries, retry_interval_days=c.retry_interval_days, actions=c.actions,
            exclusion_rules=c.exclusion_rules, priority=c.priority, is_active=c.is_active,
            has_webhook_secret=bool(c.webhook_secret), created_at=c.created_at, updated_at=c.updated_at,
            statistics=CampaignStatistics(
                total_executions=s.total_executions, active_executions=s.active_executions,
                successful_executions=s.successful_executions, failed_executions=s.failed_executions,
                canceled_executions=s.canceled_executions,
                recovered=[Amount(currency=cur, amount_minor=amt) for cur, amt in s.recovered_minor],
            ),
        )  # fmt: skip


class ExecutionOut(BaseModel):
    id: str
    campaign_id: str
    campaign_name: str
    invoice_id: str
    customer_id: str
    subscriber_id: str | None
    status: ExecutionStatus
    current_step: int = Field(description="Steps finished; the next one is current_step + 1")
    total_steps: int
    retry_count: int = Field(description="Failed attempts of the next step so far")
    next_action_at: datetime | None = Field(description="When the next step is due (null: none scheduled)")
    currency: str
    initial_outstanding_minor: int
    outstanding_minor: int
    recovered_minor: int
    started_at: datetime
    completed_at: datetime | None = Field(description="When it ended (completed, failed or canceled)")
    canceled_reason: str | None
    canceled_by: str | None
    suspended_subscriber_ids: tuple[str, ...] = Field(description="Suspended by this execution, not reinstated")

    @classmethod
    def of(cls, e: repo.ExecutionRecord) -> ExecutionOut:
        return cls(
            id=e.id, campaign_id=e.campaign_id, campaign_name=e.campaign_name, invoice_id=e.invoice_id,
            customer_id=e.customer_id, subscriber_id=e.subscriber_id, status=e.status,
            current_step=e.current_step, total_steps=e.total_steps, retry_count=e.retry_count,
            next_action_at=e.next_action_at, currency=e.currency,
            initial_outstanding_minor=e.initial_outstanding_minor, outstanding_minor=e.outstanding_minor,
            recovered_minor=e.recovered_minor, started_at=e.started_at, completed_at=e.completed_at,
            canceled_reason=e.canceled_reason, canceled_by=e.canceled_by,
            suspended_subscriber_ids=e.suspended_subscriber_ids,
        )  # fmt: skip


class ActionLogOut(BaseModel):
    step_number: int
    attempt: int
    action_type: ActionType
    status: str
    result: dict[str, Any]
    error_message: str | None
    external_id: str | None
    executed_at: datetime


class BalanceChangeOut(BaseModel):
    kind: str
    reference_id: str
    amount_minor: int
    currency: str
    outstanding_after_minor: int
    occurred_at: datetime


class ExecutionDetail(ExecutionOut):
    actions: tuple[Action, ...] = Field(description="The steps, as the campaign had them when this started")
    logs: list[ActionLogOut]
    balance_changes: list[BalanceChangeOut]


class ExecutionPage(BaseModel):
    items: list[ExecutionOut]
    total: int
    limit: int
    offset: int


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Text(1000)]
    reinstate_subscriber: bool = Field(default=False, description="Also ask to reinstate what this execution suspended")


class CurrencyTotals(BaseModel):
    currency: str
    initial_outstanding_minor: int
    outstanding_minor: int
    recovered_minor: int


class DunningStats(BaseModel):
    total_campaigns: int
    active_campaigns: int
    total_executions: int
    active_executions: int
    pending_executions: int
    in_progress_executions: int
    completed_executions: int
    failed_executions: int
    canceled_executions: int
    amounts: list[CurrencyTotals] = Field(description="Per currency: amounts are never added across currencies")
    average_recovery_rate: float = Field(description="Percent of the starting balance recovered, over ended ones")
    average_completion_time_hours: float = Field(description="Start to completion, over completed ones")


class InvoiceOut(BaseModel):
    """An overdue invoice dunning knows of, and why it has no execution yet."""

    invoice_id: str
    invoice_number: str
    customer_id: str
    currency: str
    balance_minor: int
    due_date: date
    status: str
    execution_id: str | None
    next_check_at: AwareDatetime | None
    check_note: str | None
