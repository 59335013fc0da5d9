"""Collections events (produced by the dunning service)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from bss_contracts import topics
from bss_contracts.envelope import DomainEvent
from bss_contracts.events.bulk import BulkOperationOutcome
from bss_contracts.money import Currency

ActionType = Literal["email", "sms", "suspend_service", "terminate_service", "webhook", "custom"]


class _DunningEvent(DomainEvent):
    topic = topics.DUNNING
    key_field = "invoice_id"

    execution_id: str
    campaign_id: str
    invoice_id: str
    customer_id: str
    subscriber_id: str | None = None


class DunningStarted(_DunningEvent):
    event_type = "bss.dunning.execution.started"

    campaign_name: str
    outstanding_minor: int = Field(ge=0)
    currency: Currency
    total_steps: int = Field(ge=0)
    next_action_at: AwareDatetime | None = None
    started_at: AwareDatetime


class DunningStepExecuted(_DunningEvent):
    event_type = "bss.dunning.execution.step-executed"

    step_number: int = Field(ge=1)
    action_type: ActionType
    status: Literal["succeeded", "failed", "skipped", "retrying"]
    attempt: int = Field(ge=1)
    error: str | None = None
    external_id: str | None = None
    next_action_at: AwareDatetime | None = None
    executed_at: AwareDatetime


class DunningCompleted(_DunningEvent):
    event_type = "bss.dunning.execution.completed"

    outcome: Literal["recovered", "exhausted", "failed"]
    outstanding_minor: int = Field(ge=0)
    recovered_minor: int = Field(ge=0)
    currency: Currency
    completed_at: AwareDatetime


class DunningCanceled(_DunningEvent):
    event_type = "bss.dunning.execution.canceled"

    reason: str
    canceled_by: str | None = None
    canceled_at: AwareDatetime


class NotificationRequested(DomainEvent):
    """A notice sent (or to be sent) to a customer; the record of what was said and through which channel."""

    event_type = "bss.notifications.requested"
    topic = topics.NOTIFICATIONS
    key_field = "customer_id"

    notification_id: str
    customer_id: str
    channel: Literal["email", "sms"]
    recipient: str
    template: str
    subject: str | None = None
    body: str
    invoice_id: str | None = None
    dunning_execution_id: str | None = None
    requested_at: AwareDatetime


class BulkOperationCompleted(BulkOperationOutcome):
    """A bulk operation of the dunning service finished: `state` is completed, completed_with_errors or canceled."""

    event_type = "bss.dunning.bulk-operation.completed"
    topic = topics.DUNNING_BULK_OPERATIONS
