"""Request bodies of the analytics endpoints (bounded where they enter)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bss_contracts.money import Currency
from bss_runtime.inputs import Day, decimal_between

RATE_MIN = Decimal("0.0000000001")
RATE_MAX = 10**12


class FxRateIn(BaseModel):
    """One dated rate: 1 `base_currency` = `rate` `quote_currency`."""

    model_config = ConfigDict(extra="forbid")

    base_currency: Currency
    quote_currency: Currency
    rate_date: Day
    rate: Annotated[Decimal, decimal_between(RATE_MIN, RATE_MAX), Field(decimal_places=10)]


class FxRateOut(BaseModel):
    base_currency: str
    quote_currency: str
    rate_date: str
    rate: str


class SettingsIn(BaseModel):
    """The tenant's gross margin for LTV, a fraction of revenue (0.8 = 80 %)."""

    model_config = ConfigDict(extra="forbid")

    gross_margin: Annotated[Decimal, decimal_between(Decimal("0.000001"), 1), Field(decimal_places=6)]


class SettingsOut(BaseModel):
    gross_margin: str
    source: str


class PeakOut(BaseModel):
    period_start: datetime
    peak_sessions: int = Field(description="The most sessions online at one instant of the period")
    peak_at: datetime = Field(description="The first instant of the period at that level")


class ConcurrencyOut(BaseModel):
    nas_id: str | None = Field(description="The NAS; null: the whole tenant")
    interval: Literal["hour", "day"]
    time_zone: str = Field(description="Days are counted in this zone")
    stale_after_seconds: int = Field(description="A session without a Stop counts until its last record plus this")
    period_from: datetime
    period_to: datetime
    peaks: list[PeakOut]
    highest: PeakOut | None = Field(description="The period with the highest peak (the earliest of equal ones)")


class NasOnline(BaseModel):
    nas_id: str
    online: int


class OnlineOut(BaseModel):
    as_of: datetime
    online: int = Field(description="Sessions online now in the whole tenant")
    stale_after_seconds: int
    by_nas: list[NasOnline] = Field(description="Every NAS with sessions online, most first")


class UsageFigures(BaseModel):
    sessions: int
    input_octets: int
    output_octets: int
    total_bytes: int
    session_time_seconds: int


class UsageDay(UsageFigures):
    day: date


class UsageOut(UsageFigures):
    subscriber_id: str | None
    customer_id: str | None
    usernames: list[str]
    time_zone: str = Field(description="The customer's: days and hours are counted there")
    period_from: date
    period_to: date
    average_session_seconds: int | None
    peak_hour: int | None = Field(description="The hour of the day (0-23) with the most bytes; null: no sessions")
    daily: list[UsageDay]


class TopUserOut(BaseModel):
    username: str
    subscriber_id: str | None
    plan_id: str | None
    customer_id: str | None
    customer_name: str | None
    sessions: int
    input_octets: int
    output_octets: int
    total_bytes: int
    session_time_seconds: int
