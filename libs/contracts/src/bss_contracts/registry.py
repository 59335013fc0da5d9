"""Event type -> payload model, for consumers and for the committed JSON Schemas."""

from __future__ import annotations

from typing import Any

from bss_contracts.envelope import DomainEvent
from bss_contracts.events import alerts, billing, customers, dunning, radius, support

EVENT_MODELS: tuple[type[DomainEvent], ...] = (
    customers.CustomerCreated,
    customers.CustomerUpdated,
    customers.PartnerCreated,
    customers.PartnerUpdated,
    customers.SubscriberCreated,
    customers.SubscriberActivated,
    customers.SubscriberSuspended,
    customers.SubscriberReinstated,
    customers.SubscriberTerminated,
    customers.SubscriberSuspensionRequested,
    customers.BulkOperationCompleted,
    customers.SubscriberReinstatementRequested,
    customers.SubscriberTerminationRequested,
    billing.InvoiceIssued,
    billing.InvoiceOverdue,
    billing.InvoicePaid,
    billing.InvoiceVoided,
    billing.PaymentReceived,
    billing.CreditNoteIssued,
    billing.UsageAggregated,
    billing.SubscriptionStarted,
    billing.SubscriptionPlanChanged,
    billing.SubscriptionCanceled,
    billing.SubscriptionEnded,
    billing.SlaBreachDetected,
    billing.SlaBreachResolved,
    billing.SlaCreditIssued,
    billing.BulkOperationCompleted,
    dunning.DunningStarted,
    dunning.DunningStepExecuted,
    dunning.DunningCompleted,
    dunning.DunningCanceled,
    dunning.NotificationRequested,
    dunning.BulkOperationCompleted,
    radius.SessionStarted,
    radius.SessionUpdated,
    radius.SessionStopped,
    radius.NasAccountingOn,
    radius.NasAccountingOff,
    alerts.AlertFiring,
    alerts.AlertResolved,
    support.TicketOpened,
    support.TicketAssigned,
    support.TicketFirstResponse,
    support.TicketStatusChanged,
    support.TicketSlaBreached,
    support.TicketResolved,
    support.TicketReopened,
)

BY_TYPE: dict[str, type[DomainEvent]] = {m.event_type: m for m in EVENT_MODELS}


def model_for(event_type: str) -> type[DomainEvent]:
    return BY_TYPE[event_type]


def json_schema(model: type[DomainEvent]) -> dict[str, Any]:
    """The committed schema of one event payload, with its identity in the `$id`."""
    schema = model.model_json_schema(mode="serialization")
    schema["$id"] = f"urn:ispbss:event:{model.event_type}:v{model.schema_version}"
    schema["x-topic"] = model.topic.name
    schema["x-key"] = model.topic.key
    return schema
