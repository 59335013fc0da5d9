"""Request and response bodies of the support API (bounded types from bss_runtime.inputs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bss_contracts.events.support import TicketChannel, TicketPriority, TicketStatus, TicketType
from bss_runtime.inputs import Day, Id, Text, Timestamp

Serial = Annotated[str, Text(100)]
Actor = Annotated[str, Text(200)]
Span = Annotated[list[Annotated[str, Text(5)]], Field(min_length=2, max_length=2, description="[opens, closes]")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketCreate(_In):
    ticket_type: TicketType
    subject: Annotated[str, Text(300)]
    customer_id: Id
    priority: TicketPriority = "normal"
    channel: TicketChannel = "phone"
    description: Annotated[str, Text(10_000, min_length=0)] | None = None
    service_address: Annotated[str, Text(500)] | None = None
    subscriber_ids: list[Id] = Field(default_factory=list, max_length=100, description="The affected services")
    device_serials: list[Serial] = Field(default_factory=list, max_length=100, description="ONT / CPE serials")
    assignee: Actor | None = None
    resolution_due_at: Timestamp | None = Field(default=None, description="Overrides the policy's due time")


class TicketUpdate(_In):
    ticket_type: TicketType | None = None
    subject: Annotated[str, Text(300)] | None = None
    priority: TicketPriority | None = None
    channel: TicketChannel | None = None
    description: Annotated[str, Text(10_000, min_length=0)] | None = None
    service_address: Annotated[str, Text(500)] | None = None
    subscriber_ids: list[Id] | None = Field(default=None, max_length=100)
    device_serials: list[Serial] | None = Field(default=None, max_length=100)
    assignee: Actor | None = None
    resolution_due_at: Timestamp | None = None


class TransitionIn(_In):
    status: TicketStatus
    reason: Annotated[str, Text(1000)] | None = None


class CommentIn(_In):
    body: Annotated[str, Text(20_000)]
    internal: bool = Field(default=False, description="An internal note: not a response to the customer")


class AttachmentIn(_In):
    filename: Annotated[str, Text(255)]
    content_type: Annotated[str, Text(100)]
    size_bytes: Annotated[int, Field(ge=0, le=2**40)]
    storage_url: Annotated[str, Text(2000)]
    sha256: Annotated[str, Text(64, min_length=64, pattern="^[0-9a-f]{64}$")] | None = None


class CalendarIn(_In):
    timezone: Annotated[str, Text(64)]
    hours: dict[Annotated[str, Text(1, pattern="^[0-6]$")], Span] = Field(
        description='Local opening and closing per weekday, Monday = "0": {"0": ["09:00", "17:00"]}; '
        '"24:00" closes at midnight'
    )
    holidays: list[Day] = Field(default_factory=list, max_length=400)

    @field_validator("hours")
    @classmethod
    def _times(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for opens, closes in value.values():
            for text in (opens, closes):
                if text != "24:00":
                    try:
                        datetime.strptime(text, "%H:%M")
                    except ValueError as exc:
                        raise ValueError(f"{text!r} is not HH:MM") from exc
        return value


class CalendarOut(BaseModel):
    timezone: str
    hours: dict[str, list[str]]
    holidays: list[date]


class PolicyIn(_In):
    response_minutes: Annotated[int, Field(ge=1, le=525_600)]
    resolution_minutes: Annotated[int, Field(ge=1, le=525_600)]


class PolicyOut(BaseModel):
    priority: str
    ticket_type: str
    response_minutes: int
    resolution_minutes: int


class OutagePolicyIn(_In):
    enabled: bool
    min_severity: str = Field(default="minor", pattern="^(minor|major|critical)$")


class OutagePolicyOut(BaseModel):
    enabled: bool
    min_severity: str


class CommentOut(BaseModel):
    id: str
    author: str
    body: str
    internal: bool
    created_at: datetime


class AttachmentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size_bytes: int
    storage_url: str
    sha256: str | None
    uploaded_by: str
    created_at: datetime


class HistoryOut(BaseModel):
    at: datetime
    actor: str
    action: str
    changes: dict[str, Any]


class SubscriberState(BaseModel):
    """What customers last said about the line: its status and, when suspended, why and who asked (dunning)."""

    subscriber_id: str
    username: str
    status: str
    status_reason: str | None
    status_requested_by: str | None
    changed_at: datetime
    suspended_by_dunning: bool


class DunningState(BaseModel):
    execution_id: str
    invoice_id: str
    subscriber_id: str | None
    campaign_name: str | None
    state: str
    last_action: str | None
    outstanding_minor: int | None
    currency: str | None
    started_at: datetime | None


class TicketOut(BaseModel):
    id: str
    ticket_type: str
    subject: str
    description: str | None
    customer_id: str
    service_address: str | None
    subscriber_ids: list[str]
    device_serials: list[str]
    priority: str
    status: str
    assignee: str | None
    channel: str
    sla_breach_id: str | None
    opened_at: datetime
    first_response_at: datetime | None
    response_due_at: datetime | None = Field(description="Null while the clock is paused (pending customer)")
    resolution_due_at: datetime | None
    response_breached: bool
    resolution_breached: bool
    paused: bool
    resolved_at: datetime | None
    resolution_seconds: int | None
    closed_at: datetime | None
    reopen_count: int
    created_by: str
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> TicketOut:
        m = dict(row._mapping)
        m["paused"] = any(end is None for _, end in m.pop("pauses"))
        return cls.model_validate(m)


class TicketDetail(TicketOut):
    comments: list[CommentOut]
    attachments: list[AttachmentOut]
    history: list[HistoryOut]
    subscribers: list[SubscriberState]
    dunning: list[DunningState] = Field(description="The customer's collections (a fault ticket shows why)")
    links: dict[str, str] = Field(description="Where reporting shows the affected lines' sessions")


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int
    limit: int
    offset: int


class CreatedOut(BaseModel):
    id: str
