"""HTTP request and response bodies. Field rules come from `customers.domain.fields`; a bad value answers
422 with the field's location and the reason."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from bss_contracts.events.customers import (
    ConnectionType,
    CustomerState,
    InstallationStatus,
    LastMileTechnology,
    SubscriberStatus,
)
from bss_runtime.inputs import NonNegativeInt32, Text, Timestamp
from customers.domain import fields


def _text(max_length: int, *, min_length: int = 1) -> Any:
    """Stripped text of at most the column's length, with no NUL (bss_runtime.inputs.Text)."""
    return Text(max_length, min_length=min_length, strip_whitespace=True)


Name = Annotated[str, _text(200)]
Line = Annotated[str, _text(200)]
City = Annotated[str, _text(100)]
PostalCode = Annotated[str, _text(20)]
ShortText = Annotated[str, _text(64)]
CountryCode = Annotated[str, AfterValidator(fields.country_code)]
EMAIL_SCHEMA = WithJsonSchema({"type": "string", "format": "email"})
EmailAddress = Annotated[str, AfterValidator(fields.email_address), EMAIL_SCHEMA]
Phone = Annotated[str, _text(40), AfterValidator(fields.phone_number)]
TimeZone = Annotated[str, _text(64), AfterValidator(fields.time_zone)]
Tag = Annotated[str, _text(50)]
Tags = Annotated[list[Tag], Field(max_length=50), AfterValidator(fields.tags)]
IPv4 = Annotated[str, AfterValidator(fields.ipv4_address)]
IPv6Prefix = Annotated[str, AfterValidator(fields.ipv6_prefix)]
Count = NonNegativeInt32  # integer columns
UptimePercent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
Username = Annotated[str, Text(253, pattern=r"^[^\s\x00-\x1f\x7f]+$")]


class _Strict(BaseModel):
    """Unknown fields are refused (a misspelt field name would otherwise be silently dropped)."""

    model_config = ConfigDict(extra="forbid")


class CoordinatesIn(_Strict):
    lat: Annotated[float, AfterValidator(fields.latitude)]
    lon: Annotated[float, AfterValidator(fields.longitude)]


class AssignedDevicesIn(_Strict):
    onu_serial: ShortText | None = None
    cpe_mac: Annotated[str, AfterValidator(fields.mac_address)] | None = None
    router_id: ShortText | None = None


class _CustomerFields(_Strict):
    """Every customer field that may be empty."""

    email: EmailAddress | None = None
    phone: Phone | None = None
    partner_id: ShortText | None = None
    region: ShortText | None = Field(default=None, description="Free text: the operator's own region name or code")
    billing_address_line1: Line | None = None
    billing_city: City | None = None
    billing_postal_code: PostalCode | None = None
    billing_country: CountryCode | None = Field(default=None, description="ISO 3166-1 alpha-2")
    service_address_line1: Line | None = None
    service_address_line2: Line | None = None
    service_city: City | None = None
    service_state_province: City | None = None
    service_postal_code: PostalCode | None = None
    service_country: CountryCode | None = Field(default=None, description="ISO 3166-1 alpha-2")
    service_coordinates: CoordinatesIn | None = None
    installation_status: InstallationStatus | None = None
    installation_date: Timestamp | None = None
    scheduled_installation_date: Timestamp | None = None
    installation_technician_id: ShortText | None = None
    installation_notes: Annotated[str, _text(5000, min_length=0)] | None = None
    connection_type: ConnectionType | None = None
    last_mile_technology: LastMileTechnology | None = None
    service_plan_speed: Annotated[str, _text(50)] | None = Field(default=None, examples=["100/100 Mbps"])
    assigned_devices: AssignedDevicesIn | None = None
    current_bandwidth_profile: Annotated[str, _text(100)] | None = None
    static_ip_assigned: IPv4 | None = Field(default=None, examples=["198.51.100.7"])
    ipv6_prefix: IPv6Prefix | None = Field(default=None, examples=["2001:db8:1200::/56"])
    avg_uptime_percent: UptimePercent | None = None
    last_outage_date: Timestamp | None = None


class CustomerCreate(_CustomerFields):
    name: Name
    tags: Tags = []
    timezone: TimeZone = "UTC"
    total_outages: Count = 0
    total_downtime_minutes: Count = 0


# Fields a customer always has: an update may change them but not empty them.
_NOT_NULL = ("name", "tags", "timezone", "total_outages", "total_downtime_minutes")


class CustomerUpdate(_CustomerFields):
    """A partial update: only the fields present change; `null` empties a field that may be empty."""

    name: Name | None = None
    tags: Tags | None = None
    timezone: TimeZone | None = None
    total_outages: Count | None = None
    total_downtime_minutes: Count | None = None

    @field_validator(*_NOT_NULL)
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class CustomerPage(Page):
    items: list[CustomerState]


class PartnerIn(_Strict):
    name: Name


class PartnerOut(BaseModel):
    partner_id: str
    name: str
    created_at: datetime
    updated_at: datetime


class SubscriberCreate(_Strict):
    username: Username = Field(description="The RADIUS User-Name; unique within the tenant (case-sensitive)")
    plan_id: ShortText | None = Field(default=None, description="The billing plan this account is sold under")


class StatusChangeIn(_Strict):
    reason: Annotated[str, _text(500)] | None = None


class SubscriberOut(BaseModel):
    subscriber_id: str
    customer_id: str
    username: str
    plan_id: str | None
    status: SubscriberStatus
    status_reason: str | None
    status_changed_at: datetime
    created_at: datetime


class SubscriberPage(Page):
    items: list[SubscriberOut]


class StatusChangeOut(BaseModel):
    action: str
    previous_status: SubscriberStatus
    status: SubscriberStatus
    reason: str | None
    requested_by: str | None
    cause_event_id: UUID | None
    request_id: str | None
    changed_at: datetime


class SubscriberRequestOut(BaseModel):
    request_id: str
    event_id: UUID
    action: str
    outcome: str
    detail: str | None
    reason: str
    requested_by: str
    invoice_id: str | None
    dunning_execution_id: str | None
    requested_at: datetime
    received_at: datetime
