"""GET /analytics/revenue/*, /analytics/fx-rates, /analytics/settings: revenue analytics, finance and admin only.

Every figure is per currency, in integer minor units; `reporting_currency` adds converted totals next to them
(naming each rate and its date), and a missing rate answers 422 naming the pair. Dates are UTC days; a state
"as of" a day is the one at the end of that day. Bad input answers 422 naming the field.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from bss_contracts.money import Currency
from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.inputs import Day
from reporting.analytics.adapters import repository as repo
from reporting.analytics.domain.revenue import DEFAULT_GROSS_MARGIN, Interval, decimal_text, periods
from reporting.analytics.entrypoints import schemas as s
from reporting.analytics.service_layer import reports
from reporting.analytics.service_layer.reports import MissingRate
from reporting.entrypoints.api import Deps, invalid, json_response, snapshot

router = APIRouter(prefix="/analytics", tags=["analytics"])

ROLES = (Role.FINANCE,)  # admin passes every role check
MAX_PERIODS = 800
Finance = Annotated[Principal, Depends(require_roles(*ROLES))]
ReportingCurrency = Annotated[
    Currency | None,
    Query(description="Add totals converted into this currency (ISO 4217), at the tenant's dated rates"),
]


def _not_future(field: str, day: date, today: date) -> None:
    if day > today:
        raise invalid(field, f"must not be in the future (today is {today.isoformat()} UTC)", day.isoformat())


async def _run(coro: Any) -> Response:
    try:
        return json_response(await coro)
    except MissingRate as exc:
        raise invalid("reporting_currency", str(exc), exc.pair) from exc


@router.get("/revenue/mrr", response_model=dict[str, Any])
async def mrr(
    deps: Deps,
    principal: Finance,
    as_of: Annotated[Day | None, Query(description="The day (UTC) whose end is reported; default today")] = None,
    currency: Annotated[Currency | None, Query(description="Only this currency")] = None,
    reporting_currency: ReportingCurrency = None,
) -> Response:
    """MRR, paying customers, active subscriptions and ARPU (MRR / paying customers) per currency, as they
    were at the end of `as_of`."""
    today = deps.now().date()
    day = as_of or today
    _not_future("as_of", day, today)
    async with snapshot(deps) as conn:
        return await _run(reports.mrr(conn, deps.schema, principal.tenant_id, day, currency, reporting_currency))


@router.get("/revenue/movements", response_model=dict[str, Any])
async def movements(
    deps: Deps,
    principal: Finance,
    first: Annotated[Day | None, Query(alias="from", description="First day (UTC); default 11 months back")] = None,
    last: Annotated[Day | None, Query(alias="to", description="Last day (UTC), inclusive; default today")] = None,
    interval: Annotated[Interval, Query()] = "month",
    currency: Annotated[Currency | None, Query(description="Only this currency")] = None,
    reporting_currency: ReportingCurrency = None,
) -> Response:
    """Per period (calendar month, ISO week or day, covering from..to): starting MRR, new, expansion,
    contraction, churn, reactivation (signed), ending MRR, and the customers of each movement."""
    today = deps.now().date()
    last = last or today
    first = first or (last.replace(day=1) - timedelta(days=320)).replace(day=1)
    if first > last:
        raise invalid("from", "must not be after `to`", first.isoformat())
    _not_future("to", last, today)
    if len(periods(first, last, interval)) > MAX_PERIODS:
        raise invalid("to", f"at most {MAX_PERIODS} periods of one {interval}", last.isoformat())
    async with snapshot(deps) as conn:
        return await _run(
            reports.movements(
                conn, deps.schema, principal.tenant_id, first, last, interval, currency, reporting_currency
            ),
        )


@router.get("/revenue/kpis", response_model=dict[str, Any])
async def kpis(
    deps: Deps,
    principal: Finance,
    month: Annotated[
        str | None,
        Query(pattern=r"^(19|2[0-1])\d\d-(0[1-9]|1[0-2])$", description="YYYY-MM; default the current month"),
    ] = None,
    currency: Annotated[Currency | None, Query(description="Only this currency")] = None,
    reporting_currency: ReportingCurrency = None,
) -> Response:
    """The month's KPIs per currency: logo churn rate, gross and net revenue churn, net revenue retention,
    ARPU, LTV, MRR growth, invoiced, collected and their ratio, receivables, DSO, revenue per GB."""
    today = deps.now().date()
    first = today.replace(day=1) if month is None else date(int(month[:4]), int(month[5:7]), 1)
    if first > today:
        raise invalid("month", "must not be in the future", month)
    async with snapshot(deps) as conn:
        return await _run(reports.kpis(conn, deps.schema, principal.tenant_id, first, currency, reporting_currency))


@router.post("/fx-rates", status_code=201, response_model=s.FxRateOut)
async def put_fx_rate(deps: Deps, principal: Finance, body: s.FxRateIn) -> s.FxRateOut:
    """Record (or correct) the rate of one currency pair on one day: 1 base = rate quote."""
    if body.base_currency == body.quote_currency:
        raise invalid("quote_currency", "must differ from base_currency", body.quote_currency)
    async with deps.database.engine.begin() as conn:
        await repo.put_rate(conn, principal.tenant_id, body.base_currency, body.quote_currency, body.rate_date,
                            body.rate, deps.now())  # fmt: skip
    return _rate_out(body.base_currency, body.quote_currency, body.rate_date, body.rate)


@router.get("/fx-rates", response_model=list[s.FxRateOut])
async def list_fx_rates(
    deps: Deps, principal: Finance, base_currency: Currency | None = None, quote_currency: Currency | None = None
) -> list[s.FxRateOut]:
    async with deps.database.engine.connect() as conn:
        rows = await repo.list_rates(conn, principal.tenant_id, base_currency, quote_currency)
    return [_rate_out(r.base_currency, r.quote_currency, r.rate_date, r.rate) for r in rows]


def _rate_out(base: str, quote: str, day: date, rate: Decimal) -> s.FxRateOut:
    return s.FxRateOut(base_currency=base, quote_currency=quote, rate_date=day.isoformat(),
                       rate=decimal_text(Fraction(rate), 10) or "")  # fmt: skip


@router.put("/settings", response_model=s.SettingsOut)
async def put_settings(deps: Deps, principal: Finance, body: s.SettingsIn) -> s.SettingsOut:
    """The tenant's gross margin, which LTV multiplies ARPU by."""
    async with deps.database.engine.begin() as conn:
        await repo.put_gross_margin(conn, principal.tenant_id, body.gross_margin, deps.now())
    return s.SettingsOut(gross_margin=decimal_text(Fraction(body.gross_margin)) or "", source="tenant")


@router.get("/settings", response_model=s.SettingsOut)
async def get_settings(deps: Deps, principal: Finance) -> s.SettingsOut:
    async with deps.database.engine.connect() as conn:
        margin = await repo.gross_margin(conn, principal.tenant_id)
    value = DEFAULT_GROSS_MARGIN if margin is None else margin
    return s.SettingsOut(gross_margin=decimal_text(value) or "", source="default" if margin is None else "tenant")
