"""Request bodies of the analytics endpoints (bounded where they enter)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

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
