"""Request and response bodies of the alerts API (bounded inputs: bss_runtime.inputs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bss_runtime.inputs import Id, JsonObject, Text, Timestamp
from reporting.alerts.domain.rules import RuleKind

Email = Annotated[str, Text(320, pattern=r"^[^@\s,]+@[^@\s,]+$")]
Url = Annotated[str, Text(2000, pattern=r"^https?://\S+$")]
Severity = Literal["low", "medium", "high", "critical"]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Text(200)]
    kind: RuleKind
    parameters: JsonObject = Field(description="Checked against the kind's JSON Schema (GET /alerts/rule-kinds)")
    severity: Severity = "medium"
    for_seconds: int = Field(default=0, ge=0, le=7 * 86400, description="How long the condition must hold")
    repeat_seconds: int = Field(default=4 * 3600, ge=60, le=30 * 86400, description="Reminder interval")
    interval_seconds: int = Field(default=60, ge=10, le=86400, description="How often the rule is evaluated")
    enabled: bool = True
    email_to: list[Email] = Field(default_factory=list, max_length=20)
    webhook_url: Url | None = None
    webhook_secret: Annotated[str, Text(200)] | None = None


class RuleOut(BaseModel):
    rule_id: str
    name: str
    kind: str
    parameters: dict[str, Any]
    severity: str
    for_seconds: int
    repeat_seconds: int
    interval_seconds: int
    enabled: bool
    email_to: list[str]
    webhook_url: str | None
    next_evaluation_at: datetime
    last_evaluated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DefaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email_to: list[Email] = Field(default_factory=list, max_length=20)
    webhook_url: Url | None = None
    webhook_secret: Annotated[str, Text(200)] | None = None


class AlertOut(BaseModel):
    alert_id: str
    rule_id: str
    rule_name: str | None
    kind: str | None
    severity: str | None
    subject: str
    state: str
    value: float | None
    threshold: float
    summary: str
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    last_notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: Id
    subject: Annotated[str, Text(300)] | None = Field(default=None, description="None: every subject of the rule")
    ends_at: Timestamp
    comment: Annotated[str, Text(500)] | None = None


class SilenceOut(BaseModel):
    silence_id: str
    rule_id: str
    subject: str | None
    ends_at: datetime
    comment: str | None
    created_by: str
    created_at: datetime


class CapacityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_sessions: int = Field(ge=1, le=10_000_000)


class CapacityOut(BaseModel):
    nas_id: str
    max_sessions: int
    updated_at: datetime


class NotificationOut(BaseModel):
    notification_id: str
    transition: str
    channel: str
    target: str
    status: str
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
