"""SLAs of business lines and the outages the monitoring system reported, through billing's SLA API.

Billing evaluates each measurement period an outage touches: downtime that makes the target unreachable is a
breach, credited by a credit note on the customer's open invoice (or kept as credit).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any

from demo.api import Api, gather_bounded, not_known_yet
from demo.catalog import SLAS
from demo.dataset import CustomerSpec


async def create_definitions(api: Api) -> list[str]:
    ids = []
    for sla in SLAS:
        body = {
            "name": sla.name, "target_percent": sla.target_percent, "measurement_period": "month",
            "step_percent": sla.step_percent, "credit_percent_per_step": sla.credit_percent_per_step,
            "cap_percent": sla.cap_percent,
        }  # fmt: skip
        ids.append((await api.post("/billing/sla/definitions", body))["id"])
    return ids


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def outages_for(index: int, since: datetime, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """What the network monitoring saw on this line: most lines nothing worth reporting, some a fibre cut or
    a CPE failure last month or this month, one or two an outage going on right now."""
    this_month = _month_start(now)
    last_month = _month_start(this_month - timedelta(days=1))
    kind = rng.random()
    outages: list[dict[str, Any]] = []

    def outage(start: datetime, minutes: int | None, what: str) -> None:
        end = None if minutes is None else start + timedelta(minutes=minutes)
        if start >= since and (end is None or end < now - timedelta(minutes=10)):
            outages.append(
                {"started_at": start.isoformat(), "ended_at": end.isoformat() if end else None,
                 "external_id": f"nms-{index:04d}-{len(outages) + 1}", "description": what}
            )  # fmt: skip

    if kind < 0.35:  # last month: a fibre cut, hours
        start = last_month + timedelta(days=rng.randint(1, 25), hours=rng.randint(0, 20))
        outage(start, rng.randint(90, 600), "fibre cut between street cabinet and building")
    if 0.25 < kind < 0.5:  # this month, already over
        days_in = max(1, (now - this_month).days)
        start = this_month + timedelta(days=rng.randint(0, days_in - 1), hours=rng.randint(0, 20))
        outage(start, rng.randint(60, 300), "CPE failure, replaced on site")
    if 0.5 < kind < 0.62:  # short blips: within the target, no breach
        start = now - timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 20))
        outage(start, rng.randint(3, 15), "power cut at the street cabinet")
    if index < 2:  # going on right now
        outage(now - timedelta(hours=2 + index), None, "line down: OLT port alarm")
    return outages


async def create_slas(api: Api, customers: list[CustomerSpec], now: datetime, seed: int) -> dict[str, int]:
    """An SLA on the first line of most business customers, and the outages reported on them."""
    rng = random.Random(seed)
    definitions = await create_definitions(api)
    covered = [c for c in customers if c.business and c.subscribers[0].subscription_id is not None]
    covered = [c for c in covered if rng.random() < 0.8]
    counts = {"instances": 0, "outages": 0}

    async def contract(pair: tuple[int, CustomerSpec]) -> None:
        index, customer = pair
        line = customer.subscribers[0]
        since = datetime.combine(customer.started, time(0), UTC)
        body = {
            "definition_id": definitions[index % len(definitions)], "customer_id": customer.customer_id,
            "subscriber_id": line.subscriber_id, "service_name": f"{line.plan.name} ({line.username})",
            "monthly_fee_minor": line.plan.price_minor, "currency": line.plan.currency,
            "active_from": since.isoformat(),
        }  # fmt: skip
        instance = await api.post("/billing/sla/instances", body, retry_while=not_known_yet)
        customer.sla = True
        counts["instances"] += 1
        for outage in outages_for(index, since, now, rng):
            await api.post(f"/billing/sla/instances/{instance['id']}/outages", outage)
            counts["outages"] += 1

    await gather_bounded(list(enumerate(covered)), contract, label="SLA contracts")
    return counts


async def resolve_past_breaches(api: Api, now: datetime) -> int:
    """Ops close the breaches of months that are over (the cause was repaired, the credit issued); this
    month's stay open."""
    this_month = str(_month_start(now).date())
    breaches = await api.get_all("/billing/sla/breaches", status="open")
    done = 0
    for breach in breaches:
        if breach["period_start"] < this_month:
            resolution = {"resolution": "cause repaired; credit issued on the customer's invoice"}
            await api.post(f"/billing/sla/breaches/{breach['id']}/resolve", resolution)
            done += 1
    return done
