"""The revenue reports: MRR as of a date, movements per period, a month's KPIs, each per currency, with an
optional conversion into a reporting currency at the tenant's dated rates (never silent: the rate and its
date are named next to the converted figure, and a missing rate is an error naming the pair)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bss_contracts.money import minor_unit_exponent
from reporting.analytics.adapters import repository as repo
from reporting.analytics.domain import revenue
from reporting.analytics.domain.revenue import DEFAULT_GROSS_MARGIN, Interval, decimal_text

GB = 10**9
MONEY_KPIS = ("starting_mrr_minor", "ending_mrr_minor", "invoiced_minor", "collected_minor", "receivables_end_minor")


class MissingRate(Exception):
    def __init__(self, base: str, quote: str, day: date) -> None:
        super().__init__(f"no {base}/{quote} exchange rate dated on or before {day.isoformat()}")
        self.pair = f"{base}/{quote}"


def instant(day: date) -> datetime:
    """The start of `day` in UTC: a state "as of" day D is the one at instant(D + 1 day)."""
    return datetime.combine(day, time.min, UTC)


@dataclass
class Converter:
    """Converts per-currency amounts into `target` at the latest rate dated on or before `day`."""

    conn: AsyncConnection
    tenant: str
    target: str
    day: date

    async def convert(self, amounts: dict[str, int]) -> dict[str, Any]:
        total, rates = 0, []
        for currency, amount in sorted(amounts.items()):
            if currency == self.target:
                total += amount
                continue
            found = await repo.rate_on(self.conn, self.tenant, currency, self.target, self.day)
            if found is None:
                raise MissingRate(currency, self.target, self.day)
            rate, rate_date = found
            total += revenue.convert_minor(
                amount, rate, minor_unit_exponent(currency), minor_unit_exponent(self.target)
            )
            rates.append({"pair": f"{currency}/{self.target}", "rate": decimal_text(rate, 10),
                          "rate_date": rate_date.isoformat()})  # fmt: skip
        return {"currency": self.target, "amount_minor": total, "rates": rates}


async def _movements(
    conn: AsyncConnection, schema: str, tenant: str, spans: list[tuple[date, date]], interval: Interval,
    currency: str | None,
) -> list[dict[str, revenue.PeriodMovements]]:  # fmt: skip
    """The periods' movements from the rollups: three index range reads, whatever the number of customers."""
    first, end = spans[0][0], spans[-1][1]
    return revenue.periods_from_rollups(
        spans,
        await repo.rollup_base(conn, schema, tenant, first, currency),
        await repo.rollup_days(conn, schema, tenant, first, end, currency),
        await repo.rollup_movements(conn, schema, tenant, interval, first, end, currency),
    )


async def mrr(
    conn: AsyncConnection, schema: str, tenant: str, as_of: date, currency: str | None, reporting: str | None
) -> dict[str, Any]:
    at = instant(as_of + timedelta(days=1))
    rows = await repo.mrr_as_of(conn, schema, tenant, as_of, currency)
    figures = [
        {
            "currency": cur,
            "mrr_minor": int(total),
            "paying_customers": int(paying),
            "active_subscriptions": int(active),
            "arpu_minor": round(Fraction(int(total), int(paying))) if paying else None,
        }
        for cur, total, paying, active in rows
    ]
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "at": at.isoformat(), "currencies": figures}
    if reporting:
        converter = Converter(conn, tenant, reporting, as_of)
        out["converted"] = {"mrr": await converter.convert({f["currency"]: f["mrr_minor"] for f in figures})}
    return out


async def movements(
    conn: AsyncConnection, schema: str, tenant: str, first: date, last: date, interval: Interval,
    currency: str | None, reporting: str | None,
) -> dict[str, Any]:  # fmt: skip
    spans = revenue.periods(first, last, interval)
    out = []
    for (start, end), moved in zip(
        spans, await _movements(conn, schema, tenant, spans, interval, currency), strict=True
    ):
        figures: list[dict[str, Any]] = []
        for cur, p in moved.items():
            figures.append(
                {
                    "currency": cur,
                    "starting_mrr_minor": p.starting_mrr_minor,
                    **{f"{kind}_mrr_minor": p.amounts[kind] for kind in revenue.MOVEMENTS},
                    "ending_mrr_minor": p.ending_mrr_minor,
                    "customers": dict(p.customers),
                    "starting_customers": p.starting_customers,
                    "ending_customers": p.ending_customers,
                    "signups": p.customers["new"],
                    "churned_customers": p.customers["churn"],
                }
            )
        period: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat(), "currencies": figures}
        if reporting:
            converter = Converter(conn, tenant, reporting, end - timedelta(days=1))
            period["converted"] = {
                name: await converter.convert({f["currency"]: f[name] for f in figures})
                for name in ("starting_mrr_minor", *(f"{k}_mrr_minor" for k in revenue.MOVEMENTS), "ending_mrr_minor")
            }
        out.append(period)
    return {"from": first.isoformat(), "to": last.isoformat(), "interval": interval, "periods": out}


async def kpis(
    conn: AsyncConnection, schema: str, tenant: str, month: date, currency: str | None, reporting: str | None
) -> dict[str, Any]:
    end_day = revenue.next_period(month, "month")
    start, end = instant(month), instant(end_day)
    [moved] = await _movements(conn, schema, tenant, [(month, end_day)], "month", currency)
    margin = await repo.gross_margin(conn, tenant)
    bytes_used = await repo.octets(conn, schema, tenant, month, end_day)
    by_currency = revenue.month_kpis(
        moved,
        month,
        invoiced=await repo.invoiced(conn, schema, tenant, month, end_day),
        collected=await repo.collected(conn, schema, tenant, start, end),
        receivables=await repo.receivables(conn, schema, tenant, end),
        gigabytes=Fraction(bytes_used, GB),
        gross_margin=margin if margin is not None else DEFAULT_GROSS_MARGIN,
    )
    figures: list[dict[str, Any]] = []
    for cur, k in by_currency.items():
        if currency and cur != currency:
            continue
        figures.append(
            {
                "currency": cur,
                "starting_mrr_minor": k.starting_mrr_minor,
                "ending_mrr_minor": k.ending_mrr_minor,
                "starting_customers": k.starting_customers,
                "ending_customers": k.ending_customers,
                "churned_customers": k.churned_customers,
                "logo_churn_rate": decimal_text(k.logo_churn_rate),
                "gross_revenue_churn": decimal_text(k.gross_revenue_churn),
                "net_revenue_churn": decimal_text(k.net_revenue_churn),
                "net_revenue_retention": decimal_text(k.net_revenue_retention),
                "arpu_minor": k.arpu_minor,
                "ltv_minor": k.ltv_minor,
                "mrr_growth": decimal_text(k.mrr_growth),
                "invoiced_minor": k.invoiced_minor,
                "collected_minor": k.collected_minor,
                "collection_rate": decimal_text(k.collection_rate),
                "receivables_end_minor": k.receivables_end_minor,
                "dso_days": decimal_text(k.dso_days, 2),
                "revenue_per_gb_minor": k.revenue_per_gb_minor,
            }
        )
    out: dict[str, Any] = {
        "month": month.isoformat()[:7],
        "gross_margin": decimal_text(margin if margin is not None else DEFAULT_GROSS_MARGIN),
        "gross_margin_source": "tenant" if margin is not None else "default",
        "gigabytes": decimal_text(Fraction(bytes_used, GB), 3),
        "currencies": figures,
    }
    if reporting:
        converter = Converter(conn, tenant, reporting, end_day - timedelta(days=1))
        out["converted"] = {
            name: await converter.convert({f["currency"]: f[name] for f in figures}) for name in MONEY_KPIS
        }
    return out
