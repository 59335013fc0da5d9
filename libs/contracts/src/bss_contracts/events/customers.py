"""Customer and subscriber events (produced by the customers service)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from bss_contracts import topics
from bss_contracts.envelope import DomainEvent
from bss_contracts.events.bulk import BulkOperationOutcome

InstallationStatus = Literal["pending", "scheduled", "in_progress", "completed", "failed", "canceled"]
ConnectionType = Literal["ftth", "wireless", "dsl", "cable", "fiber", "hybrid"]
LastMileTechnology = Literal["gpon", "xgs-pon", "docsis3.1", "lte", "5g"]
SubscriberStatus = Literal["pending", "active", "suspended", "terminated"]


class Coordinates(BaseModel):
    model_config = ConfigDict(frozen=True)
    lat: float
    lon: float


class AssignedDevices(BaseModel):
    model_config = ConfigDict(frozen=True)
    onu_serial: str | None = None
    cpe_mac: str | None = None
    router_id: str | None = None


class CustomerState(BaseModel):
    """The whole customer, as the customers service holds it after the change."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    partner_id: str | None = None
    region: str | None = None
    tags: tuple[str, ...] = ()
    billing_address_line1: str | None = None
    billing_city: str | None = None
    billing_postal_code: str | None = None
    billing_country: str | None = None  # ISO 3166-1 alpha-2
    timezone: str = "UTC"
    # Service address
    service_address_line1: str | None = None
    service_address_line2: str | None = None
    service_city: str | None = None
    service_state_province: str | None = None
    service_postal_code: str | None = None
    service_country: str | None = None
    service_coordinates: Coordinates | None = None
    # Installation tracking
    installation_status: InstallationStatus | None = None
    installation_date: AwareDatetime | None = None
    scheduled_installation_date: AwareDatetime | None = None
    installation_technician_id: str | None = None
    installation_notes: str | None = None
    # Service details
    connection_type: ConnectionType | None = None
    last_mile_technology: LastMileTechnology | None = None
    service_plan_speed: str | None = None
    # Network assignments
    assigned_devices: AssignedDevices | None = None
    current_bandwidth_profile: str | None = None
    static_ip_assigned: str | None = None
    ipv6_prefix: str | None = None
    # Service quality metrics
    avg_uptime_percent: float | None = None
    last_outage_date: AwareDatetime | None = None
    total_outages: int = 0
    total_downtime_minutes: int = 0
    created_at: AwareDatetime
    updated_at: AwareDatetime


class CustomerCreated(DomainEvent):
    event_type = "bss.customers.customer.created"
    topic = topics.CUSTOMERS
    key_field = "customer_id"

    customer_id: str
    customer: CustomerState


class CustomerUpdated(DomainEvent):
    event_type = "bss.customers.customer.updated"
    topic = topics.CUSTOMERS
    key_field = "customer_id"

    customer_id: str
    customer: CustomerState
    changed_fields: tuple[str, ...]


class PartnerState(BaseModel):
    """The whole partner (a reseller or agent customers may belong to), as the customers service holds it."""

    model_config = ConfigDict(frozen=True)

    partner_id: str
    name: str
    created_at: AwareDatetime
    updated_at: AwareDatetime


class PartnerCreated(DomainEvent):
    event_type = "bss.customers.partner.created"
    topic = topics.PARTNERS
    key_field = "partner_id"

    partner_id: str
    partner: PartnerState


class PartnerUpdated(DomainEvent):
    event_type = "bss.customers.partner.updated"
    topic = topics.PARTNERS
    key_field = "partner_id"

    partner_id: str
    partner: PartnerState
    changed_fields: tuple[str, ...]


class _SubscriberEvent(DomainEvent):
    topic = topics.SUBSCRIBERS
    key_field = "subscriber_id"

    subscriber_id: str
    customer_id: str
    username: str


class SubscriberCreated(_SubscriberEvent):
    event_type = "bss.customers.subscriber.created"

    plan_id: str | None = None
    status: SubscriberStatus = "pending"
    created_at: AwareDatetime


class _SubscriberStatusChanged(_SubscriberEvent):
    previous_status: SubscriberStatus
    status: SubscriberStatus
    reason: str | None = None
    changed_at: AwareDatetime
    requested_by: str | None = None  # a user id, or the service that asked (e.g. "dunning")


class SubscriberActivated(_SubscriberStatusChanged):
    event_type = "bss.customers.subscriber.activated"


class SubscriberSuspended(_SubscriberStatusChanged):
    event_type = "bss.customers.subscriber.suspended"


class SubscriberReinstated(_SubscriberStatusChanged):
    event_type = "bss.customers.subscriber.reinstated"


class SubscriberTerminated(_SubscriberStatusChanged):
    event_type = "bss.customers.subscriber.terminated"


class _SubscriberRequest(DomainEvent):
    topic = topics.SUBSCRIBER_COMMANDS
    key_field = "subscriber_id"

    request_id: str
    subscriber_id: str
    customer_id: str
    reason: str
    requested_by: str
    invoice_id: str | None = None
    dunning_execution_id: str | None = None
    requested_at: AwareDatetime


class SubscriberSuspensionRequested(_SubscriberRequest):
    event_type = "bss.customers.subscriber.suspension-requested"


class SubscriberReinstatementRequested(_SubscriberRequest):
    event_type = "bss.customers.subscriber.reinstatement-requested"


class SubscriberTerminationRequested(_SubscriberRequest):
    event_type = "bss.customers.subscriber.termination-requested"


class BulkOperationCompleted(BulkOperationOutcome):
    """A bulk operation finished: `state` is completed, completed_with_errors or canceled."""

    event_type = "bss.customers.bulk-operation.completed"
    topic = topics.CUSTOMER_BULK_OPERATIONS


__all__ = [
    "AssignedDevices",
    "BulkOperationCompleted",
    "ConnectionType",
    "Coordinates",
    "CustomerCreated",
    "CustomerState",
    "CustomerUpdated",
    "InstallationStatus",
    "LastMileTechnology",
    "PartnerCreated",
    "PartnerState",
    "PartnerUpdated",
    "SubscriberActivated",
    "SubscriberCreated",
    "SubscriberReinstated",
    "SubscriberReinstatementRequested",
    "SubscriberStatus",
    "SubscriberSuspended",
    "SubscriberSuspensionRequested",
    "SubscriberTerminated",
    "SubscriberTerminationRequested",
]
