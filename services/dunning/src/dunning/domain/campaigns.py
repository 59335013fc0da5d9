"""Campaigns: the ordered actions taken on an overdue invoice, and to whom a campaign applies."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bss_contracts.events.customers import SubscriberStatus
from bss_contracts.events.dunning import ActionType
from bss_contracts.money import Currency
from bss_runtime.inputs import Day, Id, JsonObject, NonNegativeInt64, Text

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Actions that cut or end the service: these are never carried out on an excluded day.
SERVICE_ACTIONS: frozenset[str] = frozenset({"suspend_service", "terminate_service"})
NOTICE_ACTIONS: frozenset[str] = frozenset({"email", "sms"})


class Template(BaseModel):
    """A notice's text as Jinja2 templates; `html` (optional) is rendered with autoescaping."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Text(100, min_length=0)] | None = Field(default=None, description="A label for reports")
    subject: Annotated[str, Text(500, min_length=0)] | None = Field(
        default=None, description="Email subject (email only)"
    )
    body: Annotated[str, Text(20_000)] = Field(description="Plain text body (email and sms)")
    html: Annotated[str, Text(100_000, min_length=0)] | None = Field(
        default=None, description="HTML alternative (email only)"
    )


class Action(BaseModel):
    """One step of a campaign. Its delay counts from when the previous step ran (the first: the start)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ActionType
    delay_days: int = Field(default=0, ge=0, le=365)
    delay_hours: int = Field(default=0, ge=0, le=23)
    template: Template | None = Field(default=None, description="email/sms text; a default notice if absent")
    config: JsonObject = Field(
        default_factory=dict,
        description="webhook: {url}; suspend/terminate: {reason}; custom: free-form, passed on in the event",
    )

    @property
    def delay(self) -> timedelta:
        return timedelta(days=self.delay_days, hours=self.delay_hours)

    @model_validator(mode="after")
    def _fits_type(self) -> Action:
        if self.template is not None and self.type not in NOTICE_ACTIONS:
            raise ValueError(f"a {self.type} action takes no template")
        if self.type == "email" and self.template is not None and not self.template.subject:
            raise ValueError("an email template needs a subject")
        if self.type == "webhook":
            url = self.config.get("url")
            parsed = urlparse(url) if isinstance(url, str) else None
            if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError("a webhook action needs config.url, an http(s) URL")
        return self


class ExclusionRules(BaseModel):
    """Who a campaign leaves alone, and the days on which it never suspends or terminates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_outstanding_minor: dict[Currency, NonNegativeInt64] = Field(
        default_factory=dict,
        description="Per currency: invoices owing less than this are left alone (other currencies: no limit)",
    )
    partner_ids: tuple[Id, ...] = Field(default=(), max_length=1000)
    customer_tags: tuple[Annotated[str, Text(50)], ...] = Field(default=(), max_length=1000)
    subscriber_statuses: tuple[SubscriberStatus, ...] = ()
    no_suspension_weekdays: tuple[Weekday, ...] = Field(default=(), description='e.g. ["saturday", "sunday"]')
    holidays: tuple[Day, ...] = Field(
        default=(), max_length=10_000, description="Dates with no suspension or termination"
    )
    timezone: Annotated[str, Text(64)] | None = Field(
        default=None, description="Calendar for excluded days when the customer's time zone is not known"
    )

    @field_validator("min_outstanding_minor")
    @classmethod
    def _non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        if any(amount < 0 for amount in value.values()):
            raise ValueError("minimum amounts are not negative")
        return value

    @field_validator("no_suspension_weekdays")
    @classmethod
    def _leaves_a_day(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if set(value) >= set(WEEKDAYS):
            raise ValueError("at least one weekday must allow suspension")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class RetryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_retries: int = Field(ge=0, le=20)
    retry_interval_days: int = Field(ge=0, le=90)

    @property
    def interval(self) -> timedelta:
        return timedelta(days=self.retry_interval_days)


class Plan(BaseModel):
    """What an execution follows: the campaign's actions and policies as they were when it started."""

    model_config = ConfigDict(frozen=True)

    actions: tuple[Action, ...]
    retry: RetryPolicy
    exclusions: ExclusionRules

    @property
    def total_steps(self) -> int:
        return len(self.actions)

    def action(self, step_number: int) -> Action:
        """Step numbers start at 1."""
        return self.actions[step_number - 1]


class CampaignSettings(BaseModel):
    """Everything a collections manager configures about a campaign."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Text(200)]
    description: Annotated[str, Text(2000, min_length=0)] | None = None
    trigger_after_days: int = Field(ge=0, le=365, description="Days past the due date before it starts")
    max_retries: int = Field(default=2, ge=0, le=20, description="Retries of a failed step")
    retry_interval_days: int = Field(default=1, ge=0, le=90)
    actions: tuple[Action, ...] = Field(min_length=1, max_length=50)
    exclusion_rules: ExclusionRules = Field(default_factory=ExclusionRules)
    priority: int = Field(default=0, ge=-1000, le=1000, description="The highest-priority matching campaign wins")
    is_active: bool = True
    webhook_secret: Annotated[str, Text(500, min_length=16)] | None = Field(default=None, description="Signs webhooks")

    @model_validator(mode="after")
    def _webhooks_signed(self) -> CampaignSettings:
        if any(a.type == "webhook" for a in self.actions) and not self.webhook_secret:
            raise ValueError("webhook actions need a webhook_secret to sign their requests")
        return self
