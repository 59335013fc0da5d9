"""Collections: the dunning campaigns the demo ISP runs, and waiting for them to act on overdue invoices."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from demo.api import Api

REMINDER = {
    "name": "first-reminder",
    "subject": "Invoice {{ invoice.number }} is overdue",
    "body": (
        "Dear {{ customer.name }},\n\nour invoice {{ invoice.number }} of {{ invoice.total }} {{ invoice.currency }} "
        "was due on {{ invoice.due_date }} and {{ invoice.balance }} {{ invoice.currency }} are still open "
        "({{ invoice.days_past_due }} days past due).\nPlease pay it to keep your internet service running.\n\n"
        "Your billing team"
    ),
}
SMS = {"name": "sms-warning", "body": "Invoice {{ invoice.number }}: {{ invoice.balance }} {{ invoice.currency }} "
                                      "overdue. Pay now to avoid suspension."}  # fmt: skip
MINIMUM = {"EUR": 500, "GBP": 500, "USD": 500}  # below 5.00 nobody is chased

# The delays are hours or nothing so that the demo shows suspensions right away; a real campaign waits days.
CAMPAIGNS: tuple[dict[str, Any], ...] = (
    {
        "name": "Residential collections",
        "description": "Email and SMS reminder, then suspension of the line until the invoice is paid.",
        "trigger_after_days": 7, "max_retries": 2, "retry_interval_days": 1, "priority": 0,
        "actions": [
            {"type": "email", "template": REMINDER},
            {"type": "sms", "template": SMS},
            {"type": "suspend_service", "config": {"reason": "unpaid invoice"}},
        ],
        "exclusion_rules": {"customer_tags": ["vip", "business"], "min_outstanding_minor": MINIMUM},
    },
    {
        "name": "Business collections",
        "description": "Reminder and an account manager's call; suspension only after two weeks.",
        "trigger_after_days": 14, "max_retries": 2, "retry_interval_days": 1, "priority": 10,
        "actions": [
            {"type": "email", "template": REMINDER},
            {"type": "custom", "delay_hours": 4, "config": {"task": "account manager calls the customer"}},
            {"type": "suspend_service", "delay_days": 14, "config": {"reason": "unpaid invoice (business)"}},
        ],
        "exclusion_rules": {"customer_tags": ["vip", "residential"], "min_outstanding_minor": MINIMUM},
    },
)  # fmt: skip


async def create_campaigns(api: Api) -> list[str]:
    return [(await api.post("/dunning/campaigns", campaign))["id"] for campaign in CAMPAIGNS]


async def wait_for_dunning(api: Api, overdue: int, *, timeout: float = 150.0) -> dict[str, int]:
    """Until dunning has taken up the `overdue` invoices (those its campaigns do not exclude), run the steps
    due by now, and the customers service has applied the suspensions it asked for; prints progress."""
    deadline = time.monotonic() + timeout
    last: tuple[int, ...] = ()
    steady_since = time.monotonic()
    while True:
        stats = await api.get("/dunning/stats")
        due = await _due_steps(api)
        suspended = (await api.get("/subscribers", status="suspended", limit=1))["total"]
        now = (stats["total_executions"], stats["pending_executions"], due, suspended)
        if now != last:
            print(f"    dunning: {stats['total_executions']} executions, {due} steps due, "
                  f"{suspended} subscribers suspended", flush=True)  # fmt: skip
            last, steady_since = now, time.monotonic()
        started = stats["total_executions"] > 0 or overdue == 0
        caught_up = started and stats["pending_executions"] == 0 and due == 0
        if caught_up and time.monotonic() - steady_since > 6:
            return {"executions": stats["total_executions"], "suspended": suspended}
        if time.monotonic() > deadline:
            print("    dunning: still working; the rest happens in the background", flush=True)
            return {"executions": stats["total_executions"], "suspended": suspended}
        await asyncio.sleep(2)


async def _due_steps(api: Api) -> int:
    now = datetime.now(UTC)
    due, offset = 0, 0
    while True:
        page = await api.get("/dunning/executions", status="in_progress", limit=500, offset=offset)
        for execution in page["items"]:
            at = execution["next_action_at"]
            if at is not None and datetime.fromisoformat(at) <= now:
                due += 1
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return due


async def some_pay_up(api: Api, open_invoices: list[dict[str, Any]], suspended_customers: set[str],
                      seed: int, share: float = 0.2) -> set[str]:  # fmt: skip
    """A share of the suspended customers pay everything they owe by card: billing settles their invoices,
    dunning completes those cases as recovered and asks the customers service to reinstate their lines."""
    owed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for invoice in open_invoices:
        owed[invoice["customer_id"]][invoice["currency"]] += invoice["balance_minor"]
    rng = random.Random(seed)
    payers = [c for c in sorted(suspended_customers) if rng.random() < share]
    for customer_id in payers:
        for currency, amount in owed[customer_id].items():
            if amount > 0:
                await api.post(
                    "/billing/payments",
                    {"customer_id": customer_id, "amount_minor": amount, "currency": currency, "method": "card",
                     "reference": "paid after the suspension", "external_id": f"{customer_id}-settle-{currency}"},
                )  # fmt: skip
    return set(payers)


async def wait_for_reinstatements(api: Api, still_suspended: int, *, timeout: float = 90.0) -> int:
    """Until no more than `still_suspended` lines are suspended (payment -> billing -> dunning -> customers)."""
    deadline = time.monotonic() + timeout
    while True:
        suspended: int = (await api.get("/subscribers", status="suspended", limit=1))["total"]
        if suspended <= still_suspended or time.monotonic() > deadline:
            return suspended
        await asyncio.sleep(2)
