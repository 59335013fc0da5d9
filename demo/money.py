"""Plans, payments, subscriptions and invoices, through the billing service's API.

The demo's history is months long but is loaded in minutes, and billing reports an invoice overdue as soon as
its due date has passed. A payment recorded after its invoice would therefore race billing's overdue
detection (and dunning would chase customers who paid on time). So the money customers paid is recorded
first, dated when they paid it: billing keeps it as the customer's credit and settles each invoice from it
when the invoice is issued. What a customer did not pay stays open and goes to collections.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from time import monotonic
from typing import Any

import httpx

from demo.api import Api, ApiError, not_known_yet
from demo.catalog import PLANS, Plan
from demo.dataset import CustomerSpec, SubscriberSpec
from demo.geography import COUNTRIES

PAYMENT_TERMS_DAYS = 14  # billing's default: due date = issue date + 14


async def create_plans(api: Api) -> dict[str, str]:
    """Plan code -> plan id."""
    ids = {}
    for plan in PLANS:
        body = {
            "code": plan.code, "name": plan.name, "currency": plan.currency, "price_minor": plan.price_minor,
            "included_octets": plan.included_octets, "overage_price_per_gb_minor": plan.overage_price_per_gb_minor,
            "overage_increment_octets": plan.overage_increment_octets, "tax_rate_bp": tax_rate(plan.country),
        }  # fmt: skip
        ids[plan.code] = (await api.post("/billing/plans", body))["id"]
    print(f"    plans: {len(ids)} in 3 currencies")
    return ids


def tax_rate(country: str) -> int:
    return next(c.tax_rate_bp for c in COUNTRIES if c.code == country)


def cycle_total(plan: Plan) -> int:
    """What one cycle of `plan` is invoiced, tax included: billing rounds the tax half away from zero."""
    tax = Fraction(plan.price_minor * tax_rate(plan.country), 10_000)
    return plan.price_minor + int(tax + Fraction(1, 2))


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)  # anchors are on day 1-28


def billed_lines(customer: CustomerSpec) -> list[SubscriberSpec]:
    """The lines with a subscription: every installed one (terminated ones were billed until they ended)."""
    return [line for line in customer.subscribers if line.lifecycle != "pending"]


def payments_for(customer: CustomerSpec, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """One payment per closed cycle the customer paid, for all its lines, dated as its habit has it: before the
    due date, or (late payers) some days after it. A defaulting customer stopped paying its latest cycles,
    sometimes after paying part of the first of them; others leave only the latest invoice open."""
    lines = billed_lines(customer)
    if not lines:
        return []
    per_cycle = sum(cycle_total(line.plan) for line in lines)
    unpaid = {"defaulting": customer.unpaid_months, "latest_open": 1}.get(customer.habit, 0)
    paid_cycles = customer.months_with_us - unpaid
    partial = customer.habit == "defaulting" and rng.random() < 0.3
    payments = []
    for cycle in range(paid_cycles + (1 if partial else 0)):
        issued = add_months(customer.started, cycle + 1)  # billing dates a cycle's invoice the day it ends
        due = issued + timedelta(days=PAYMENT_TERMS_DAYS)
        if customer.habit == "late":
            paid_on = due + timedelta(days=rng.randint(3, 20))
        else:
            paid_on = issued + timedelta(days=rng.randint(0, PAYMENT_TERMS_DAYS - 1))
        received_at = min(datetime.combine(paid_on, time(rng.randint(7, 20)), UTC), now - timedelta(minutes=5))
        amount = per_cycle if cycle < paid_cycles else per_cycle // 2
        method = rng.choice(("sepa_direct_debit", "card", "bank_transfer") if customer.country.currency == "EUR"
                            else ("card", "bank_transfer", "direct_debit"))  # fmt: skip
        payments.append(
            {
                "customer_id": customer.customer_id, "amount_minor": amount, "currency": customer.country.currency,
                "method": method, "reference": f"{customer.key} {issued:%Y-%m}",
                "external_id": f"{customer.customer_id}-{issued:%Y%m}", "received_at": received_at.isoformat(),
            }
        )  # fmt: skip
    return payments


async def record_payments(api: Api, customer: CustomerSpec, now: datetime, seed: int) -> int:
    rng = random.Random(f"{seed}/{customer.key}")  # the same payments whatever order customers are loaded in
    payments = payments_for(customer, now, rng)
    for payment in payments:
        # billing learns about the customer from the customers service's events: wait for it
        await api.post("/billing/payments", payment, retry_while=not_known_yet)
    return len(payments)


async def subscribe(api: Api, customer: CustomerSpec, plan_ids: dict[str, str]) -> None:
    """A subscription for every installed line, started as long ago as the customer has been with us (set up
    before the line is activated: billing would otherwise start one on the activation day)."""
    for line in billed_lines(customer):
        body = {
            "subscriber_id": line.subscriber_id,
            "plan_id": plan_ids[line.plan.code],
            "start_date": str(customer.started),
        }
        line.subscription_id = (await api.post("/billing/subscriptions", body, retry_while=not_known_yet))["id"]


async def all_pages(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await api.get(path, limit=200, offset=len(items), **params)
        items += page["items"]
        if not page["items"] or len(items) >= page["total"]:
            return items


class CycleCloser:
    """Bills the cycles that ended while the customers are being loaded. Billing's scheduler closes due cycles
    on its own every little while; asking again whenever it is done saves the wait."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                closed = (await self.api.post("/billing/usage/close", timeout=280))["processed"]
            except (ApiError, httpx.TimeoutException):  # still closing when the gateway gave up waiting
                closed = 1
            if not closed:
                await asyncio.sleep(1)

    async def wait_for(self, expected_invoices: int, *, timeout: float = 300.0) -> int:
        """Until `expected_invoices` are issued (or `timeout`); returns how many are."""
        deadline = monotonic() + timeout
        issued = -1
        try:
            while True:
                now_issued: int = (await self.api.get("/billing/invoices", limit=1))["total"]
                if now_issued != issued:
                    print(f"    invoices issued: {now_issued}/{expected_invoices}", flush=True)
                    issued = now_issued
                if issued >= expected_invoices or monotonic() > deadline:
                    return issued
                if self._task is not None and self._task.done():
                    self._task.result()  # raise what stopped it
                await asyncio.sleep(3)
        finally:
            self._stop.set()
            if self._task is not None:
                self._task.cancel()


def expected_invoices(customers: list[CustomerSpec]) -> int:
    return sum(c.months_with_us * len(billed_lines(c)) for c in customers)
