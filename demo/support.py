"""The support desk of the demo ISP, through the support service's API.

Billing's SLA breaches (the outages monitoring reported) open fault tickets by themselves (the outage policy);
on top of them customers call in. The desk answers most, resolves some, one fix does not hold (reopened), and a
few urgent calls are left waiting until their SLA breaches. So that breaches show within the load, the demo
tenant's urgent targets are minutes long (a 24x7 calendar); the other priorities keep realistic targets.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

from demo.api import Api, not_known_yet
from demo.dataset import CustomerSpec

ALWAYS = {str(day): ["00:00", "24:00"] for day in range(7)}
# (priority, response minutes, resolution minutes): urgent short enough to breach during the load.
TARGETS = (("urgent", 1, 3), ("high", 60, 480), ("normal", 240, 1440), ("low", 480, 2400))
CALLS = (
    ("fault", "high", "No internet since this morning, the ONT's PON light blinks red"),
    ("fault", "normal", "Speed far below the plan in the evenings"),
    ("billing", "normal", "Charged twice for last month"),
    ("relocation", "low", "Moving house next month: keep the line"),
    ("upgrade", "low", "Wants the faster plan"),
    ("installation", "normal", "Technician did not come on the scheduled day"),
    ("fault", "urgent", "Business line down, the shop cannot take card payments"),
    ("other", "low", "Asks for a paper copy of the contract"),
)


@dataclass(frozen=True)
class Call:
    customer: CustomerSpec
    ticket_type: str
    priority: str
    subject: str


def draw_calls(customers: list[CustomerSpec], seed: int, count: int = 24) -> list[Call]:
    """`count` calls from customers with an active line (deterministic for a seed), at least two urgent ones."""
    rng = random.Random(seed * 7919 + 18)
    callers = [c for c in customers if c.customer_id and any(s.subscriber_id for s in c.subscribers)]
    chosen = rng.sample(callers, min(count, len(callers)))
    calls = []
    for i, customer in enumerate(chosen):
        ticket_type, priority, subject = CALLS[6] if i < 2 else rng.choice(CALLS)
        calls.append(Call(customer, ticket_type, priority, subject))
    return calls


async def configure(api: Api) -> None:
    await api.request("PUT", "/support/sla/calendar", json={"timezone": "UTC", "hours": ALWAYS, "holidays": []})
    for priority, response, resolution in TARGETS:
        body = {"response_minutes": response, "resolution_minutes": resolution}
        await api.request("PUT", f"/support/sla/policies/{priority}/*", json=body)


async def open_calls(api: Api, calls: list[Call]) -> list[dict[str, Any]]:
    """One ticket per call (retried while the support service has not yet heard of the customer)."""

    async def one(call: Call) -> dict[str, Any]:
        c = call.customer
        lines = [s.subscriber_id for s in c.subscribers if s.subscriber_id][:1]
        body = {
            "ticket_type": call.ticket_type, "priority": call.priority, "channel": "phone", "subject": call.subject,
            "customer_id": c.customer_id, "subscriber_ids": lines,
            "service_address": f"{c.body.get('service_address_line1', '')}, {c.body.get('service_city', '')}",
            "device_serials": [f"ONT-{c.key[:10].upper()}"] if call.ticket_type == "fault" else [],
        }  # fmt: skip
        ticket: dict[str, Any] = await api.post("/support/tickets", body, retry_while=not_known_yet, patience=120)
        return ticket

    return list(await asyncio.gather(*(one(call) for call in calls)))


async def work(api: Api, tickets: list[dict[str, Any]]) -> dict[str, int]:
    """The desk's day: urgent calls wait (they breach), the others get an answer; every other one is resolved,
    and the first resolved is reopened (the fix did not hold)."""
    answered = resolved = 0
    reopened = None
    for i, t in enumerate(t for t in tickets if t["priority"] != "urgent"):
        path = f"/support/tickets/{t['id']}"
        await api.post(f"{path}/comments", {"body": "Thanks, we are looking into it.", "internal": False})
        answered += 1
        if i % 3 == 1:
            await api.post(f"{path}/transitions", {"status": "pending_customer", "reason": "waiting for a photo"})
        elif i % 2 == 0:
            await api.post(f"{path}/comments", {"body": "Reset the port on the OLT.", "internal": True})
            await api.post(f"{path}/transitions", {"status": "resolved"})
            resolved += 1
            if reopened is None:
                await api.post(f"{path}/transitions", {"status": "reopened", "reason": "down again"})
                reopened = t["id"]
    return {"answered": answered, "resolved": resolved, "reopened": 1 if reopened else 0}


async def outage_tickets(api: Api, breaches: int, timeout: float = 120.0) -> int:
    """The tickets the outage policy opened (one per SLA breach), once they are all there."""
    deadline = time.monotonic() + timeout
    while True:
        total = int((await api.get("/support/tickets", channel="monitoring", limit=1))["total"])
        if total >= breaches or time.monotonic() > deadline:
            return total
        await asyncio.sleep(2)


async def wait_for_breaches(api: Api, at_least: int, timeout: float = 180.0) -> int:
    """The breach scheduler polls every 30 s: wait until the unanswered urgent calls have breached."""
    deadline = time.monotonic() + timeout
    while True:
        found = int((await api.get("/support/tickets", breached="true", limit=1))["total"])
        if found >= at_least or time.monotonic() > deadline:
            return found
        await asyncio.sleep(3)
