"""Response shapes of the network analytics endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


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
