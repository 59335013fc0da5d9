"""GET /billing/plan-fit: each cycle's usage priced on every plan of the catalogue by the rule that bills it, the
cheapest recommended, worked out by hand; and the pure rule's edge cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from billing.domain.plan_fit import PlanTerms, best_plan, cycle_cost, price_per_gb

from .support import session_event, unique

GB = 10**9


def at(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2025-{day}T{hhmm}:00+00:00").astimezone(UTC)


def terms(plan_id: str, price: int, included: int | None, per_gb: int, currency: str = "EUR") -> PlanTerms:
    return PlanTerms(plan_id, plan_id.upper(), plan_id, currency, price, included, per_gb, GB)


def test_the_cheapest_plan_for_a_usage_and_the_advice() -> None:
    basic, fibre, unlimited = (
        terms("basic", 1_000, 5 * GB, 300),
        terms("fibre", 3_000, 10 * GB, 200),
        terms("unlimited", 4_500, None, 0),
    )
    usd = terms("cheap-usd", 1, None, 0, currency="USD")  # another currency is never compared
    catalogue = [basic, fibre, unlimited, usd]
    # 13.5 GB: basic 1,000 + 9 GB x 3.00 = 3,700; fibre 3,000 + 4 GB x 2.00 = 3,800; unlimited 4,500
    assert [cycle_cost(p, 13_500_000_000) for p in (basic, fibre, unlimited)] == [3_700, 3_800, 4_500]
    fit = best_plan(fibre, 3_800, 13_500_000_000, catalogue)
    assert (fit.plan.plan_id, fit.cost_minor, fit.saving_minor, fit.advice) == ("basic", 3_700, 100, "downgrade")
    fit = best_plan(fibre, 7_000, 30 * GB, catalogue)  # fibre 7,000, basic 8,500, unlimited 4,500
    assert (fit.plan.plan_id, fit.saving_minor, fit.advice) == ("unlimited", 2_500, "upgrade")
    fit = best_plan(fibre, 3_000, 9 * GB, catalogue)  # basic 1,000 + 4 x 300 = 2,200 < 3,000
    assert (fit.plan.plan_id, fit.advice) == ("basic", "downgrade")
    fit = best_plan(basic, 1_000, GB, catalogue)
    assert (fit.plan.plan_id, fit.saving_minor, fit.advice) == ("basic", 0, "keep")
    assert price_per_gb(3_800, 13_500_000_000) == 281 and price_per_gb(3_000, 0) is None


async def _plan(billing: Any, name: str, price: int, included: int | None, per_gb: int, currency: str = "EUR") -> Any:
    return await billing.post("/billing/plans", {
        "code": unique(name), "name": name, "currency": currency, "price_minor": price, "included_octets": included,
        "overage_price_per_gb_minor": per_gb, "tax_rate_bp": 2000,
    })  # fmt: skip


async def test_plan_fit_of_a_month_through_the_api(billing: Any) -> None:
    fibre = await _plan(billing, "Fibre 100", 3_000, 10 * GB, 200)
    basic = await _plan(billing, "Basic", 1_000, 5 * GB, 300)
    unlimited = await _plan(billing, "Unlimited", 4_500, None, 0)
    retired = await _plan(billing, "Old cheap", 10, None, 0)
    await billing.post(f"/billing/plans/{retired['id']}/retire", expect=200)
    await _plan(billing, "Dollar", 1, None, 0, currency="USD")
    billing.clock.set(at("01-01", "10:00"))
    subscribers = {}
    for used in (13_500_000_000, 30 * GB):
        customer, subscriber = unique("cust"), unique("sub")
        username = f"{subscriber}@isp"
        await billing.add_customer(customer, timezone="UTC", subscriber_id=subscriber, username=username)
        await billing.post("/billing/subscriptions", {"subscriber_id": subscriber, "plan_id": fibre["id"],
                                                      "start_date": "2025-01-01"})  # fmt: skip
        session = unique("sess")
        await billing.publish_and_wait(
            session_event("start", username, session, at("01-10", "10:00"), 0),
            session_event("stop", username, session, at("01-10", "18:00"), used - GB, GB),
        )
        subscribers[subscriber] = used
    billing.clock.set(at("02-01", "00:30"))
    await billing.post("/billing/usage/close", roles=("ops",), expect=200)

    rows = await billing.get("/billing/plan-fit", month="2025-01", limit=200)
    mine = {r["subscriber_id"]: r for r in rows if r["subscriber_id"] in subscribers}
    low, high = (mine[s] for s in subscribers)
    assert {k: low[k] for k in ("plan_id", "used_octets", "overage_octets", "overage_paid_minor", "paid_minor",
            "effective_price_per_gb_minor", "advice", "recommended_plan_id", "recommended_cost_minor",
            "monthly_saving_minor", "period_start", "period_end", "included_octets")} == {
        "plan_id": fibre["id"], "used_octets": 13_500_000_000, "overage_octets": 3_500_000_000,
        "overage_paid_minor": 800, "paid_minor": 3_800, "effective_price_per_gb_minor": 281, "advice": "downgrade",
        "recommended_plan_id": basic["id"], "recommended_cost_minor": 3_700, "monthly_saving_minor": 100,
        "period_start": "2025-01-01", "period_end": "2025-02-01", "included_octets": 10 * GB,
    }  # fmt: skip
    assert (high["paid_minor"], high["recommended_plan_id"], high["monthly_saving_minor"], high["advice"]) == (
        7_000, unlimited["id"], 2_500, "upgrade",
    )  # fmt: skip
    february = await billing.get("/billing/plan-fit", month="2025-02")
    assert all(r["period_start"].startswith("2025-02") for r in february)
    bad = await billing.get("/billing/plan-fit", month="2025-13", expect=422)
    assert bad["detail"][0]["loc"][-1] == "month"
    assert await billing.for_tenant(unique("isp")).get("/billing/plan-fit", month="2025-01") == []
    await billing.get("/billing/plan-fit", month="2025-01", roles=("ops",), expect=403)
