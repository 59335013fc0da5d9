"""Collections rules for suspended subscribers: what to do next and how urgent it is (seed 000's rules).

Balance thresholds are in major units of the balance's own currency (10,000 means 10,000.00 EUR for a EUR
balance, 10,000 JPY for a JPY balance): amounts of different currencies are never compared or added.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from bss_contracts.money import minor_unit_exponent

ESCALATE_DAYS = 90
FINAL_NOTICE_DAYS = 60
CALL_DAYS = 30
REMINDER_DAYS = 14
CALL_BALANCE = Decimal(10_000)
CRITICAL_BALANCE = Decimal(50_000)
HIGH_BALANCE = Decimal(20_000)
MEDIUM_BALANCE = Decimal(5_000)


class NextAction(StrEnum):
    ESCALATE_TO_COLLECTIONS = "escalate_to_collections"
    FINAL_NOTICE = "final_notice"
    COLLECTIONS_CALL = "collections_call"
    PAYMENT_REMINDER = "payment_reminder"
    MONITOR = "monitor"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


PRIORITY_ORDER = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


def major_units(amount_minor: int, currency: str) -> Decimal:
    """Exact major units (1999 EUR -> Decimal('19.99')), for threshold comparisons."""
    return Decimal(amount_minor).scaleb(-minor_unit_exponent(currency))


def days_blocked(suspended_at: datetime, now: datetime) -> int:
    """Whole days spent suspended (a subscriber suspended 47 hours ago has been blocked 1 day)."""
    return max((now - suspended_at).days, 0)


def next_action(days: int, balance: Decimal) -> NextAction:
    if days >= ESCALATE_DAYS:
        return NextAction.ESCALATE_TO_COLLECTIONS
    if days >= FINAL_NOTICE_DAYS:
        return NextAction.FINAL_NOTICE
    if days >= CALL_DAYS:
        return NextAction.COLLECTIONS_CALL if balance > CALL_BALANCE else NextAction.PAYMENT_REMINDER
    if days >= REMINDER_DAYS:
        return NextAction.PAYMENT_REMINDER
    return NextAction.MONITOR


def priority(days: int, balance: Decimal) -> Priority:
    if days >= ESCALATE_DAYS or balance > CRITICAL_BALANCE:
        return Priority.CRITICAL
    if days >= FINAL_NOTICE_DAYS or balance > HIGH_BALANCE:
        return Priority.HIGH
    if days >= CALL_DAYS or balance > MEDIUM_BALANCE:
        return Priority.MEDIUM
    return Priority.LOW
