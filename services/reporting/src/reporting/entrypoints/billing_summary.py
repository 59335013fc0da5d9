"""GET /billing/reports/billing-summary: per calendar month (UTC) and currency, what was invoiced, collected,
credited and voided, what was outstanding at the month's end, and the invoices that became overdue in it; from
the invoice read model (`invoices`, `invoice_movements`), amounts in minor units and in major units."""

# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy import text

from bss_contracts.money import to_major
from bss_runtime.auth import Principal, Role, require_roles
from reporting.entrypoints.api import Deps, invalid, json_response, snapshot

router = APIRouter(prefix="/billing/reports", tags=["reports"])

ROLES = (Role.FINANCE,)
MONTH = r"^(19|2[0-1])\d\d-(0[1-9]|1[0-2])$"
MAX_MONTHS = 120
FIGURES = ("invoiced", "collected", "credited", "voided", "outstanding", "new_overdue")
# A movement's kind -> the figure it counts in, and its sign there (movements lower a balance with a negative delta).
KIND_FIGURE = {"issued": ("invoiced", 1), "payment": ("collected", -1), "paid": ("collected", -1),
               "credit_note": ("credited", -1), "voided": ("voided", -1)}  # fmt: skip


def _month(value: str) -> date:
    return date(int(value[:4]), int(value[5:7]), 1)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


@router.get("/billing-summary")
async def billing_summary(
    deps: Deps,
    principal: Annotated[Principal, Depends(require_roles(*ROLES))],
    first: Annotated[
        str | None, Query(alias="from", pattern=MONTH, description="YYYY-MM; default 11 months back")
    ] = None,
    last: Annotated[
        str | None, Query(alias="to", pattern=MONTH, description="YYYY-MM, inclusive; default this month")
    ] = None,
) -> Response:
    """One row per month and currency: `invoiced` (invoices issued), `collected` (payments, and the rest of an
    invoice marked paid), `credited` (credit notes), `voided`, `outstanding` (open balances at the month's end),
    `new_overdue` (total of the invoices billing declared overdue in the month) and `new_overdue_count`."""
    today = deps.now().astimezone(UTC).date()
    end_month = _month(last) if last else today.replace(day=1)
    back = end_month.year * 12 + end_month.month - 1 - 11  # 11 months before the last
    start_month = _month(first) if first else date(back // 12, back % 12 + 1, 1)
    if start_month > end_month:
        raise invalid("to", "must not be before from", last)
    months = [start_month]
    while months[-1] < end_month:
        months.append(_next(months[-1]))
        if len(months) > MAX_MONTHS:
            raise invalid("to", f"at most {MAX_MONTHS} months", last)
    until = datetime.combine(_next(end_month), datetime.min.time(), UTC)
    schema, tenant = deps.schema, principal.tenant_id
    async with snapshot(deps) as conn:
        moved = await conn.execute(
            text(
                f"""
                SELECT date_trunc('month', m.effective_at, 'UTC')::date AS month, i.currency, m.kind,
                       sum(m.delta_minor)::bigint AS amount
                FROM "{schema}".invoice_movements m
                JOIN "{schema}".invoices i ON i.tenant_id = m.tenant_id AND i.invoice_id = m.invoice_id
                WHERE m.tenant_id = :tenant AND m.effective_at < :until
                GROUP BY 1, 2, 3
                """
            ),
            {"tenant": tenant, "until": until},
        )
        overdue = await conn.execute(
            text(
                f"""
                SELECT date_trunc('month', overdue_at, 'UTC')::date AS month, currency,
                       count(*) AS n, sum(total_minor)::bigint AS amount
                FROM "{schema}".invoices
                WHERE tenant_id = :tenant AND overdue_at >= :since AND overdue_at < :until
                GROUP BY 1, 2
                """
            ),
            {"tenant": tenant, "since": datetime.combine(start_month, datetime.min.time(), UTC), "until": until},
        )
        movements, overdues = moved.all(), overdue.all()
    figures: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    net: dict[tuple[date, str], int] = defaultdict(int)
    currencies: set[str] = set()
    for month, currency, kind, amount in movements:
        currencies.add(currency)
        net[month, currency] += amount
        if kind in KIND_FIGURE:
            figure, sign = KIND_FIGURE[kind]
            figures[month, currency][figure] += sign * amount
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for month, currency, n, amount in overdues:
        currencies.add(currency)
        figures[month, currency]["new_overdue"] += amount
        counts[month, currency] += n
    rows: list[dict[str, Any]] = []
    for currency in sorted(currencies):
        running = sum(a for (m, c), a in net.items() if c == currency and m < start_month)
        for month in months:
            running += net.get((month, currency), 0)
            f = figures.get((month, currency), dict.fromkeys(FIGURES, 0)) | {"outstanding": running}
            if not any(f.values()) and not counts.get((month, currency)):
                continue
            rows.append(
                {"month": f"{month:%Y-%m}", "currency": currency}
                | {name: to_major(f[name], currency) for name in FIGURES}
                | {f"{name}_minor": f[name] for name in FIGURES}
                | {"new_overdue_count": counts.get((month, currency), 0)}
            )
    rows.sort(key=lambda r: (r["month"], r["currency"]))
    return json_response(rows)
