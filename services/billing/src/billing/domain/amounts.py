"""Invoice lines, tax and totals in integer minor units.

Rounding: a line's amount (quantity x unit price) and its tax (amount x rate) are each rounded half away from
zero to a whole minor unit, line by line; the invoice's tax is the sum of its lines' taxes. Amounts of
different currencies never meet: totals are built with `Money`, which refuses to add them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from bss_contracts.money import Money

LineKind = Literal["subscription", "usage_overage", "usage_adjustment", "one_off", "credit", "proration"]
BASIS_POINTS = 10_000  # tax rates are in basis points: 2000 = 20 %


def round_half_away(value: Fraction) -> int:
    """The nearest integer; halves go away from zero (2.5 -> 3, -2.5 -> -3)."""
    rounded = math.floor(abs(value) + Fraction(1, 2))
    return rounded if value >= 0 else -rounded


@dataclass(frozen=True)
class Line:
    kind: LineKind
    description: str
    quantity: Decimal
    unit_price_minor: int
    tax_rate_bp: int
    amount_minor: int
    tax_minor: int


def make_line(
    kind: LineKind, description: str, *, quantity: Decimal, unit_price_minor: int, tax_rate_bp: int = 0
) -> Line:
    amount = round_half_away(Fraction(quantity) * unit_price_minor)
    return line_with_amount(
        kind, description, quantity=quantity, unit_price_minor=unit_price_minor, amount_minor=amount,
        tax_rate_bp=tax_rate_bp,
    )  # fmt: skip


def line_with_amount(
    kind: LineKind, description: str, *, quantity: Decimal, unit_price_minor: int, amount_minor: int, tax_rate_bp: int
) -> Line:
    """A line whose amount was computed elsewhere (usage charges round up to the plan's increment)."""
    tax = round_half_away(Fraction(amount_minor) * tax_rate_bp / BASIS_POINTS)
    return Line(kind, description, quantity, unit_price_minor, tax_rate_bp, amount_minor, tax)


@dataclass(frozen=True)
class Totals:
    subtotal: Money
    tax: Money
    total: Money


def totals(lines: Iterable[Line], currency: str) -> Totals:
    subtotal = tax = Money.zero(currency)
    for line in lines:
        subtotal += Money(amount_minor=line.amount_minor, currency=currency)
        tax += Money(amount_minor=line.tax_minor, currency=currency)
    return Totals(subtotal, tax, subtotal + tax)
