"""The demo ISP's revenue moves: upgrades, downgrades (at once and at the cycle end), cancellations, churn
and win-backs, through billing's API, so that every MRR movement (new, expansion, contraction, churn,
reactivation) is non-zero.

They happen once the past cycles are billed (the history's invoices and payments stay as drawn): plan changes
now; cancellations at the end of the running cycle; churn as a cancellation whose last day has passed (a few
days ago, inside the running cycle, which is then billed and the subscription ends at once), and a win-back is
a churned line that subscribes again today. Churned lines are on plans without a data allowance, so the
sessions of their last days bill nothing late.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

from demo.api import Api
from demo.catalog import PLANS, Plan
from demo.dataset import CustomerSpec, SubscriberSpec

CHURN_DAYS_AGO = 3  # the churned lines' last day; the running cycles began 12-27 days ago (dataset.cycle_anchor)


def siblings(plan: Plan) -> list[Plan]:
    """Plans the line could move to: same country and kind (business or not), sold on a common access."""
    return sorted(
        (p for p in PLANS if p.code != plan.code and p.country == plan.country and p.business == plan.business
         and set(p.access) & set(plan.access)),
        key=lambda p: p.price_minor,
    )  # fmt: skip


def upgrade_of(plan: Plan) -> Plan | None:
    return next((p for p in siblings(plan) if p.price_minor > plan.price_minor), None)


def downgrade_of(plan: Plan) -> Plan | None:
    return next((p for p in reversed(siblings(plan)) if p.price_minor < plan.price_minor), None)


@dataclass
class RevenueMoves:
    upgrades: list[tuple[SubscriberSpec, Plan]] = field(default_factory=list)
    downgrades_now: list[tuple[SubscriberSpec, Plan]] = field(default_factory=list)
    downgrades_at_cycle_end: list[tuple[SubscriberSpec, Plan]] = field(default_factory=list)
    cancellations: list[SubscriberSpec] = field(default_factory=list)  # end with the running cycle
    churned: list[SubscriberSpec] = field(default_factory=list)  # ended a few days ago
    win_backs: list[SubscriberSpec] = field(default_factory=list)  # churned, and subscribed again today

    def counts(self) -> dict[str, int]:
        return {
            "upgrades": len(self.upgrades), "downgrades_now": len(self.downgrades_now),
            "downgrades_at_cycle_end": len(self.downgrades_at_cycle_end), "cancellations": len(self.cancellations),
            "churned": len(self.churned), "win_backs": len(self.win_backs),
        }  # fmt: skip


def draw_moves(customers: list[CustomerSpec], seed: int, share: float = 0.03) -> RevenueMoves:
    """Which lines move, the same for the same customers and seed: active lines of customers with at least one
    billed cycle, each in at most one move; every kind of move at least once when there are lines for it."""
    rng = random.Random(f"{seed}/revenue")
    lines = [line for c in customers if c.months_with_us >= 1 for line in c.subscribers if line.lifecycle == "active"]
    rng.shuffle(lines)
    quota = max(1, round(len(lines) * share))
    moves = RevenueMoves()
    for line in lines:
        up, down = upgrade_of(line.plan), downgrade_of(line.plan)
        if up is not None and len(moves.upgrades) < 2 * quota:
            moves.upgrades.append((line, up))
        elif down is not None and len(moves.downgrades_now) < quota:
            moves.downgrades_now.append((line, down))
        elif down is not None and len(moves.downgrades_at_cycle_end) < quota:
            moves.downgrades_at_cycle_end.append((line, down))
        elif line.plan.included_octets is None and len(moves.churned) < quota:
            moves.churned.append(line)
            if len(moves.win_backs) < max(1, quota // 2):
                moves.win_backs.append(line)
        elif len(moves.cancellations) < quota:
            moves.cancellations.append(line)
    return moves


async def apply_moves(api: Api, moves: RevenueMoves, plan_ids: dict[str, str], today: date,
                      *, timeout: float = 300.0) -> dict[str, int]:  # fmt: skip
    """Make the moves through billing's API; returns how many of each were made."""
    for line, plan in moves.upgrades:
        await _change(api, line, {"plan_id": plan_ids[plan.code]})  # an upgrade: at once, prorated
    for line, plan in moves.downgrades_now:
        await _change(api, line, {"plan_id": plan_ids[plan.code], "effective": "now"})
    for line, plan in moves.downgrades_at_cycle_end:
        await _change(api, line, {"plan_id": plan_ids[plan.code]})  # a downgrade: at the end of the cycle
    for line in moves.cancellations:
        await api.post(f"/billing/subscriptions/{line.subscription_id}/cancel")
    last_day = today - timedelta(days=CHURN_DAYS_AGO)
    for line in moves.churned:
        await api.post(f"/billing/subscriptions/{line.subscription_id}/cancel", {"last_day": str(last_day)})
    await _wait_until_ended(api, moves.churned, timeout)
    for line in moves.win_backs:
        body = {"subscriber_id": line.subscriber_id, "plan_id": plan_ids[line.plan.code]}
        line.subscription_id = (await api.post("/billing/subscriptions", body))["id"]
    return moves.counts()


async def _change(api: Api, line: SubscriberSpec, body: dict[str, str]) -> None:
    await api.post(f"/billing/subscriptions/{line.subscription_id}/change-plan", body)


async def _wait_until_ended(api: Api, lines: list[SubscriberSpec], timeout: float) -> None:
    """Billing's scheduler closes the churned lines' last cycles on its own; asking saves the wait."""
    deadline = time.monotonic() + timeout
    waiting = list(lines)
    while waiting:
        await api.post("/billing/usage/close", timeout=280)
        waiting = [
            line for line in waiting
            if (await api.get(f"/billing/subscriptions/{line.subscription_id}"))["status"] != "ended"
        ]  # fmt: skip
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(f"{len(waiting)} churned subscriptions did not end")
