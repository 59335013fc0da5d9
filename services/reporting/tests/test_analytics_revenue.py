"""Revenue analytics end to end: a scripted year of one tenant (signups, upgrades, downgrades, cancellations,
reactivations, two currencies) published as real events through Kafka into the running reporting service;
every figure of every endpoint compared with values worked out by hand below, to the minor unit.

The year is the twelve calendar months before the current one (m(0) .. m(11)), so that its sessions fall in
the kept session partitions and nothing is in the future. Customers and what happens to them:

  EUR  A  m0+9d new 5000;  m2+14d upgrade -> 8000
       B  m0+19d new 3000; m3 downgrade -> 2000; m4+9d cancels (ends m5); m5 ended; m8+4d wins back 4000
       C  m1 new 10000;    m4+4d second subscription 2500 (-> 12500); m6 first one ends (-> 2500)
       D  m2+2d new 3000;  m2+19d ended (new and gone within one month: no movement of that month)
       E  m5+14d new 6000; m10 ended
  USD  F  m0+4d new 2000;  m1+9d upgrade -> 3500; m7 downgrade -> 2500
       G  m3 new 1000;     m4+14d ended; m9 wins back 1500

A change at the very start of a month (m3, m5, ...) belongs to that month: MRR "at the start of a period" is
the state after every change strictly before it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import httpx
import pytest

from bss_contracts import DomainEvent

from .reporting_support import (
    Harness,
    invoice,
    new_tenant,
    paid,
    payment,
    plan_changed,
    session_event,
    subscriber,
    subscription_canceled,
    subscription_ended,
    subscription_started,
)

pytestmark = pytest.mark.timeout(300)


def month(i: int) -> date:
    """The first day of month m(i) of the scripted year (m(12) is the current month)."""
    today = datetime.now(UTC).date()
    n = today.year * 12 + today.month - 1 - 12 + i
    return date(n // 12, n % 12 + 1, 1)


def m(i: int, days: int = 0) -> datetime:
    return datetime.combine(month(i), datetime.min.time(), UTC) + timedelta(days=days)


def last_day(i: int) -> date:
    return month(i + 1) - timedelta(days=1)


def year() -> list[DomainEvent]:
    return [
        subscription_started("A", "a1", 5000, m(0, 9)),
        plan_changed("A", "a1", 5000, 8000, m(2, 14)),
        subscription_started("B", "b1", 3000, m(0, 19)),
        plan_changed("B", "b1", 3000, 2000, m(3)),
        subscription_canceled("B", "b1", 2000, m(4, 9), m(5)),
        subscription_ended("B", "b1", 2000, m(5)),
        subscription_started("B", "b2", 4000, m(8, 4)),
        subscription_started("C", "c1", 10000, m(1)),
        subscription_started("C", "c2", 2500, m(4, 4)),
        subscription_ended("C", "c1", 10000, m(6)),
        subscription_started("D", "d1", 3000, m(2, 2)),
        subscription_ended("D", "d1", 3000, m(2, 19)),
        subscription_started("E", "e1", 6000, m(5, 14)),
        subscription_ended("E", "e1", 6000, m(10)),
        subscription_started("F", "f1", 2000, m(0, 4), currency="USD"),
        plan_changed("F", "f1", 2000, 3500, m(1, 9), currency="USD"),
        plan_changed("F", "f1", 3500, 2500, m(7), currency="USD"),
        subscription_started("G", "g1", 1000, m(3), currency="USD"),
        subscription_ended("G", "g1", 1000, m(4, 14), currency="USD"),
        subscription_started("G", "g2", 1500, m(9), currency="USD"),
        # invoices and payments of m5 (and one of m4 paid in m5)
        invoice("i0", "B", 2000, issued=month(4), due=month(4) + timedelta(days=14)),
        invoice("i1", "A", 8000, issued=month(5), due=month(5) + timedelta(days=14)),
        invoice("i2", "C", 12500, issued=month(5), due=month(5) + timedelta(days=14)),
        invoice("u1", "F", 3500, issued=month(5), due=month(5) + timedelta(days=14), currency="USD"),
        payment("i0", "B", 2000, m(5, 1)),
        payment("i1", "A", 8000, m(5, 4)),
        payment("i2", "C", 5000, m(5, 19)),
        paid("u1", "F", 3500, m(5, 10), currency="USD"),
        # 3 GB in and 1 GB out in m5
        subscriber("sub-a1", "A", "user-a1"),
        session_event("start", "S1", "user-a1", start=m(5, 2), when=m(5, 2)),
        session_event("stop", "S1", "user-a1", start=m(5, 2), when=m(5, 2) + timedelta(hours=3), seconds=10800,
                      octets_in=3 * 10**9, octets_out=10**9, cause="User-Request"),
    ]  # fmt: skip


# Month by month: starting, new, expansion, contraction, churn, reactivation, ending; then the customers of
# each movement (new, expansion, contraction, churn, reactivation) and customers paying at start and end.
EUR = [
    (0, 8000, 0, 0, 0, 0, 8000, (2, 0, 0, 0, 0), 0, 2),
    (8000, 10000, 0, 0, 0, 0, 18000, (1, 0, 0, 0, 0), 2, 3),
    (18000, 0, 3000, 0, 0, 0, 21000, (0, 1, 0, 0, 0), 3, 3),
    (21000, 0, 0, -1000, 0, 0, 20000, (0, 0, 1, 0, 0), 3, 3),
    (20000, 0, 2500, 0, 0, 0, 22500, (0, 1, 0, 0, 0), 3, 3),
    (22500, 6000, 0, 0, -2000, 0, 26500, (1, 0, 0, 1, 0), 3, 3),
    (26500, 0, 0, -10000, 0, 0, 16500, (0, 0, 1, 0, 0), 3, 3),
    (16500, 0, 0, 0, 0, 0, 16500, (0, 0, 0, 0, 0), 3, 3),
    (16500, 0, 0, 0, 0, 4000, 20500, (0, 0, 0, 0, 1), 3, 4),
    (20500, 0, 0, 0, 0, 0, 20500, (0, 0, 0, 0, 0), 4, 4),
    (20500, 0, 0, 0, -6000, 0, 14500, (0, 0, 0, 1, 0), 4, 3),
    (14500, 0, 0, 0, 0, 0, 14500, (0, 0, 0, 0, 0), 3, 3),
]
USD = [
    (0, 2000, 0, 0, 0, 0, 2000, (1, 0, 0, 0, 0), 0, 1),
    (2000, 0, 1500, 0, 0, 0, 3500, (0, 1, 0, 0, 0), 1, 1),
    (3500, 0, 0, 0, 0, 0, 3500, (0, 0, 0, 0, 0), 1, 1),
    (3500, 1000, 0, 0, 0, 0, 4500, (1, 0, 0, 0, 0), 1, 2),
    (4500, 0, 0, 0, -1000, 0, 3500, (0, 0, 0, 1, 0), 2, 1),
    (3500, 0, 0, 0, 0, 0, 3500, (0, 0, 0, 0, 0), 1, 1),
    (3500, 0, 0, 0, 0, 0, 3500, (0, 0, 0, 0, 0), 1, 1),
    (3500, 0, 0, -1000, 0, 0, 2500, (0, 0, 1, 0, 0), 1, 1),
    (2500, 0, 0, 0, 0, 0, 2500, (0, 0, 0, 0, 0), 1, 1),
    (2500, 0, 0, 0, 0, 1500, 4000, (0, 0, 0, 0, 1), 1, 2),
    (4000, 0, 0, 0, 0, 0, 4000, (0, 0, 0, 0, 0), 2, 2),
    (4000, 0, 0, 0, 0, 0, 4000, (0, 0, 0, 0, 0), 2, 2),
]
KINDS = ("new", "expansion", "contraction", "churn", "reactivation")


def expected_period(currency: str, row: tuple[Any, ...]) -> dict[str, Any]:
    start, new, expansion, contraction, churn, reactivation, end, counts, customers_start, customers_end = row
    assert start + new + expansion + contraction + churn + reactivation == end  # the table itself adds up
    return {
        "currency": currency, "starting_mrr_minor": start, "new_mrr_minor": new, "expansion_mrr_minor": expansion,
        "contraction_mrr_minor": contraction, "churn_mrr_minor": churn, "reactivation_mrr_minor": reactivation,
        "ending_mrr_minor": end, "customers": dict(zip(KINDS, counts, strict=True)),
        "starting_customers": customers_start, "ending_customers": customers_end, "signups": counts[0],
        "churned_customers": counts[3],
    }  # fmt: skip


async def call(h: Harness, method: str, path: str, tenant: str, *roles: str, **kwargs: Any) -> httpx.Response:
    return await h.client.request(method, f"/analytics/{path}", headers=h.headers(tenant, *roles), **kwargs)


async def ok(h: Harness, path: str, tenant: str, role: str = "finance", **params: Any) -> Any:
    response = await call(h, "GET", path, tenant, role, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def seed_year(h: Harness, tenant: str) -> None:
    await h.publish(*[(e, tenant) for e in year()])
    response = await call(h, "POST", "fx-rates", tenant, "finance",
                          json={"base_currency": "EUR", "quote_currency": "USD", "rate_date": month(5).isoformat(),
                                "rate": "1.0850"})  # fmt: skip
    assert response.status_code == 201, response.text
    response = await call(h, "PUT", "settings", tenant, "admin", json={"gross_margin": "0.75"})
    assert response.status_code == 200, response.text


async def answers(h: Harness, tenant: str) -> list[Any]:
    """Every analytics answer the year's checks read (compared again after a rebuild)."""
    out = [await ok(h, "revenue/movements", tenant, **{"from": month(0).isoformat(), "to": last_day(11).isoformat()})]
    for day in (month(4) + timedelta(days=9), month(5) + timedelta(days=13), last_day(11)):
        out.append(await ok(h, "revenue/mrr", tenant, as_of=day.isoformat()))
    out.append(await ok(h, "revenue/kpis", tenant, month=month(5).isoformat()[:7]))
    out.append(await ok(h, "revenue/mrr", tenant, as_of=(month(5) + timedelta(days=13)).isoformat(),
                        reporting_currency="USD"))  # fmt: skip
    return out


@pytest.fixture(scope="module")
async def scripted(reporting: Harness) -> str:
    tenant = new_tenant()
    await seed_year(reporting, tenant)
    return tenant


async def test_movements_of_every_month_of_the_year(reporting: Harness, scripted: str) -> None:
    body = await ok(reporting, "revenue/movements", scripted, **{"from": month(0).isoformat(),
                                                                   "to": last_day(11).isoformat()})  # fmt: skip
    assert [p["start"] for p in body["periods"]] == [month(i).isoformat() for i in range(12)]
    for i, period in enumerate(body["periods"]):
        assert period["end"] == month(i + 1).isoformat()
        assert period["currencies"] == [expected_period("EUR", EUR[i]), expected_period("USD", USD[i])], i


async def test_movements_by_day_and_by_week(reporting: Harness, scripted: str) -> None:
    days = await ok(reporting, "revenue/movements", scripted, interval="day", currency="EUR",
                    **{"from": month(5).isoformat(), "to": (month(5) + timedelta(days=20)).isoformat()})  # fmt: skip
    moved = {p["start"]: p["currencies"][0] for p in days["periods"] if p["currencies"]}
    assert len(days["periods"]) == 21
    first, e_day = month(5).isoformat(), (month(5) + timedelta(days=14)).isoformat()
    assert moved[first]["churn_mrr_minor"] == -2000 and moved[first]["churned_customers"] == 1  # B at m5 00:00
    assert moved[e_day]["new_mrr_minor"] == 6000 and moved[e_day]["signups"] == 1
    assert moved[first]["starting_mrr_minor"] == 22500 and moved[e_day]["ending_mrr_minor"] == 26500
    quiet = [p for p in moved.values() if p["starting_mrr_minor"] == p["ending_mrr_minor"]]
    assert all(all(p[f"{k}_mrr_minor"] == 0 for k in KINDS) for p in quiet) and len(quiet) == 19

    weeks = await ok(reporting, "revenue/movements", scripted, interval="week",
                     **{"from": month(0).isoformat(), "to": last_day(11).isoformat()})  # fmt: skip
    starts = [date.fromisoformat(p["start"]) for p in weeks["periods"]]
    assert all(d.weekday() == 0 for d in starts) and starts[0] <= month(0) < starts[0] + timedelta(days=7)
    totals = {k: sum(c[f"{k}_mrr_minor"] for p in weeks["periods"] for c in p["currencies"] if c["currency"] == "EUR")
              for k in KINDS}  # fmt: skip
    # by week, D's three weeks count as new then churn; every other change falls in one week
    assert totals == {"new": 8000 + 10000 + 3000 + 6000, "expansion": 3000 + 2500, "contraction": -1000 - 10000,
                      "churn": -3000 - 2000 - 6000, "reactivation": 4000}  # fmt: skip


async def test_mrr_as_of_past_days(reporting: Harness, scripted: str) -> None:
    def figures(currency: str, mrr: int, paying: int, active: int, arpu: int) -> dict[str, Any]:
        return {"currency": currency, "mrr_minor": mrr, "paying_customers": paying, "active_subscriptions": active,
                "arpu_minor": arpu}  # fmt: skip

    canceled_day = await ok(reporting, "revenue/mrr", scripted, as_of=(month(4) + timedelta(days=9)).isoformat())
    # B canceled that day and still counts; G ends five days later
    assert canceled_day["currencies"] == [figures("EUR", 22500, 3, 4, 7500), figures("USD", 4500, 2, 2, 2250)]
    before_e = await ok(reporting, "revenue/mrr", scripted, as_of=(month(5) + timedelta(days=13)).isoformat())
    assert before_e["currencies"] == [figures("EUR", 20500, 2, 3, 10250), figures("USD", 3500, 1, 1, 3500)]
    end = await ok(reporting, "revenue/mrr", scripted, as_of=last_day(11).isoformat())
    assert end["currencies"] == [figures("EUR", 14500, 3, 3, 4833), figures("USD", 4000, 2, 2, 2000)]
    only = await ok(reporting, "revenue/mrr", scripted, as_of=last_day(11).isoformat(), currency="USD")
    assert only["currencies"] == [figures("USD", 4000, 2, 2, 2000)]
    before_all = await ok(reporting, "revenue/mrr", scripted, as_of=(month(0) + timedelta(days=3)).isoformat())
    assert before_all["currencies"] == []


async def test_kpis_of_a_month(reporting: Harness, scripted: str) -> None:
    body = await ok(reporting, "revenue/kpis", scripted, month=month(5).isoformat()[:7])
    days = (month(6) - month(5)).days
    assert (body["gross_margin"], body["gross_margin_source"], body["gigabytes"]) == ("0.750000", "tenant", "4.000")
    eur, usd = body["currencies"]
    assert eur == {
        "currency": "EUR", "starting_mrr_minor": 22500, "ending_mrr_minor": 26500, "starting_customers": 3,
        "ending_customers": 3, "churned_customers": 1,
        "logo_churn_rate": "0.333333",  # 1 of 3
        "gross_revenue_churn": "0.088889",  # 2000 / 22500
        "net_revenue_churn": "0.088889",  # (2000 + 0 - 0) / 22500
        "net_revenue_retention": "0.911111",  # (22500 - 2000) / 22500
        "arpu_minor": 8833,  # 26500 / 3
        "ltv_minor": 74531,  # 26500 / 3 x 0.75 / (2000 / 22500) = 74531.25
        "mrr_growth": "0.177778",  # 4000 / 22500
        "invoiced_minor": 20500,  # i1 8000 + i2 12500
        "collected_minor": 15000,  # i0 2000 + i1 8000 + i2 5000
        "collection_rate": "0.731707",  # 15000 / 20500
        "receivables_end_minor": 7500,  # i2's rest
        "dso_days": _two(Fraction(7500 * days, 20500)),  # receivables at the end / invoiced x days of m5
        "revenue_per_gb_minor": 5125,  # 20500 / 4
    }  # fmt: skip
    assert usd == {
        "currency": "USD", "starting_mrr_minor": 3500, "ending_mrr_minor": 3500, "starting_customers": 1,
        "ending_customers": 1, "churned_customers": 0, "logo_churn_rate": "0.000000",
        "gross_revenue_churn": "0.000000", "net_revenue_churn": "0.000000", "net_revenue_retention": "1.000000",
        "arpu_minor": 3500, "ltv_minor": None,  # no revenue churned: no lifetime to divide by
        "mrr_growth": "0.000000", "invoiced_minor": 3500, "collected_minor": 3500, "collection_rate": "1.000000",
        "receivables_end_minor": 0, "dso_days": "0.00", "revenue_per_gb_minor": 875,
    }  # fmt: skip


def _two(value: Fraction) -> str:
    """Two decimals, half to even, worked out with integers."""
    hundredths = round(value * 100)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


async def test_converted_totals_name_their_rate_and_date(reporting: Harness, scripted: str) -> None:
    body = await ok(reporting, "revenue/mrr", scripted, as_of=(month(5) + timedelta(days=13)).isoformat(),
                    reporting_currency="USD")  # fmt: skip
    assert body["currencies"][0]["mrr_minor"] == 20500  # per currency as before
    assert body["converted"] == {"mrr": {
        "currency": "USD", "amount_minor": 22242 + 3500,  # 205.00 EUR x 1.0850 = 222.425 USD -> 22242 (half even)
        "rates": [{"pair": "EUR/USD", "rate": "1.0850000000", "rate_date": month(5).isoformat()}],
    }}  # fmt: skip
    kpis = await ok(reporting, "revenue/kpis", scripted, month=month(5).isoformat()[:7], reporting_currency="USD")
    assert kpis["converted"]["invoiced_minor"]["amount_minor"] == 22242 + 3500  # 20500 EUR at 1.085 + 3500 USD
    moved = await ok(reporting, "revenue/movements", scripted, reporting_currency="USD",
                     **{"from": month(5).isoformat(), "to": last_day(5).isoformat()})  # fmt: skip
    converted = moved["periods"][0]["converted"]
    assert converted["ending_mrr_minor"]["amount_minor"] == 28752 + 3500  # 265.00 EUR x 1.085 = 287.525 -> 28752
    assert converted["churn_mrr_minor"]["amount_minor"] == -2170  # -20.00 EUR x 1.085, no USD churn
    assert converted["new_mrr_minor"]["rates"] == [
        {"pair": "EUR/USD", "rate": "1.0850000000", "rate_date": month(5).isoformat()}
    ]
    only = await ok(reporting, "revenue/kpis", scripted, month=month(5).isoformat()[:7], currency="USD")
    assert [c["currency"] for c in only["currencies"]] == ["USD"]
    rates = await ok(reporting, "fx-rates", scripted)
    assert rates == [{"base_currency": "EUR", "quote_currency": "USD", "rate_date": month(5).isoformat(),
                      "rate": "1.0850000000"}]  # fmt: skip


async def test_bad_input_names_the_field(reporting: Harness, scripted: str) -> None:
    async def refused(path: str, field: str, **params: Any) -> str:
        response = await call(reporting, "GET", path, scripted, "finance", params=params)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert detail[0]["loc"][-1] == field, detail
        return str(detail[0]["msg"])

    await refused("revenue/mrr", "currency", currency="XXX")
    await refused("revenue/mrr", "reporting_currency", reporting_currency="eur")
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    await refused("revenue/mrr", "as_of", as_of=tomorrow.isoformat())
    await refused("revenue/movements", "from", **{"from": month(3).isoformat(), "to": month(2).isoformat()})
    await refused("revenue/movements", "interval", interval="year")
    await refused("revenue/movements", "to", interval="day", **{"from": "2001-01-01", "to": month(0).isoformat()})
    await refused("revenue/kpis", "month", month="2026-13")
    await refused("revenue/kpis", "month", month=f"{tomorrow.year + 1}-01")
    message = await refused("revenue/mrr", "reporting_currency", as_of=(month(4) + timedelta(days=9)).isoformat(),
                            reporting_currency="USD")  # fmt: skip
    assert "EUR/USD" in message  # the only rate is dated later
    message = await refused("revenue/kpis", "reporting_currency", month=month(5).isoformat()[:7],
                            reporting_currency="EUR")  # fmt: skip
    assert "USD/EUR" in message
    for body, field in (
        ({"base_currency": "EUR", "quote_currency": "EUR", "rate_date": "2026-01-01", "rate": "1"}, "quote_currency"),
        ({"base_currency": "EUR", "quote_currency": "XYZ", "rate_date": "2026-01-01", "rate": "1"}, "quote_currency"),
        ({"base_currency": "EUR", "quote_currency": "USD", "rate_date": "2026-01-01", "rate": "0"}, "rate"),
    ):
        response = await call(reporting, "POST", "fx-rates", scripted, "finance", json=body)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == field, response.text
    response = await call(reporting, "PUT", "settings", scripted, "finance", json={"gross_margin": "1.5"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "gross_margin"


async def test_roles_and_tenant_isolation(reporting: Harness, scripted: str) -> None:
    assert (await reporting.client.get("/analytics/revenue/mrr")).status_code == 401  # no token
    for role in ("collections", "ops", "support"):
        assert (await call(reporting, "GET", "revenue/mrr", scripted, role)).status_code == 403
    assert (await call(reporting, "GET", "revenue/kpis", scripted, "admin")).status_code == 200

    other = new_tenant()  # the same customer and subscription ids, another tenant
    await reporting.publish((subscription_started("A", "a1", 777, m(0, 1)), other))
    assert (await ok(reporting, "revenue/mrr", other))["currencies"] == [
        {"currency": "EUR", "mrr_minor": 777, "paying_customers": 1, "active_subscriptions": 1, "arpu_minor": 777}
    ]
    assert await ok(reporting, "fx-rates", other) == []
    assert (await ok(reporting, "settings", other))["source"] == "default"
    end = await ok(reporting, "revenue/mrr", scripted, as_of=last_day(11).isoformat())
    assert end["currencies"][0]["mrr_minor"] == 14500  # untouched by the other tenant's A
