"""GET /analytics/usage/subscribers/{id}, /analytics/usage/customers/{id} and /analytics/usage/top: what
subscribers used, from the sessions read model. Ops, support and finance."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.errors import NotFound
from bss_runtime.inputs import Day, Id, limit
from reporting.analytics.adapters import usage as repo
from reporting.analytics.adapters.usage import TopBy
from reporting.analytics.domain.subscriber_usage import DayUsage, Period, UsageSummary, period_bounds, summarize
from reporting.analytics.entrypoints import schemas
from reporting.entrypoints.api import Deps, invalid, json_response, snapshot

router = APIRouter(prefix="/analytics/usage", tags=["usage"])
ROLES = (Role.OPS, Role.SUPPORT, Role.FINANCE)
Reader = Annotated[Principal, Depends(require_roles(*ROLES))]
MAX_DAYS = 366
From = Annotated[Day | None, Query(alias="from", description="First day (the customer's), inclusive")]
To = Annotated[Day | None, Query(alias="to", description="Last day (the customer's), inclusive; default today")]
PeriodQuery = Annotated[
    Period | None, Query(description="The current day, week, month or quarter (instead of from/to)")
]


def _figures(usage: DayUsage) -> dict[str, Any]:
    return {
        "sessions": usage.sessions,
        "input_octets": usage.input_octets,
        "output_octets": usage.output_octets,
        "total_bytes": usage.input_octets + usage.output_octets,
        "session_time_seconds": usage.session_time_seconds,
    }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # a zone the customers service accepted but this machine lacks


def _bounds(period: Period | None, first: date | None, last: date | None, today: date) -> tuple[date, date]:
    if period is not None and (first is not None or last is not None):
        raise invalid("period", "give either period or from/to", period)
    if period is not None:
        return period_bounds(period, today)
    last = last or today
    first = first or last.replace(day=1)
    if first > last:
        raise invalid("from", "must not be after `to`", first.isoformat())
    if (last - first).days >= MAX_DAYS:
        raise invalid("from", f"at most {MAX_DAYS} days at once", first.isoformat())
    return first, last


async def _report(
    deps: Deps, tenant: str, usernames: list[str], zone_name: str, period: Period | None, first: Day | None,
    last: Day | None, subject: dict[str, Any],
) -> Response:  # fmt: skip
    zone = _zone(zone_name)
    today = deps.now().astimezone(zone).date()
    first, last = _bounds(period, first, last, today)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    async with snapshot(deps) as conn:
        hours = await repo.hours_of(conn, deps.schema, tenant, usernames, start, end, str(zone))
    summary: UsageSummary = summarize(first, last, hours)
    return json_response(
        {
            **subject,
            "time_zone": str(zone),
            "period_from": first,
            "period_to": last,
            **_figures(summary.total),
            "average_session_seconds": summary.average_session_seconds,
            "peak_hour": summary.peak_hour,
            "daily": [{"day": d.day, **_figures(d)} for d in summary.daily],
        }
    )


@router.get("/subscribers/{subscriber_id}", response_model=schemas.UsageOut)
async def subscriber_usage(
    deps: Deps, principal: Reader, subscriber_id: Id, period: PeriodQuery = None, first: From = None, last: To = None
) -> Response:
    """One subscriber's sessions, bytes and time over the period, per day, and its peak hour (the hour of the day
    with the most bytes), in its customer's time zone. Default: this month to date."""
    async with snapshot(deps) as conn:
        found = await repo.subscriber(conn, deps.schema, principal.tenant_id, subscriber_id)
    if found is None:
        raise NotFound(f"no subscriber {subscriber_id!r}")
    usernames = [found.username] if found.username else []
    subject = {"subscriber_id": subscriber_id, "customer_id": found.customer_id, "usernames": usernames}
    return await _report(deps, principal.tenant_id, usernames, found.timezone, period, first, last, subject)


@router.get("/customers/{customer_id}", response_model=schemas.UsageOut)
async def customer_usage(
    deps: Deps, principal: Reader, customer_id: Id, period: PeriodQuery = None, first: From = None, last: To = None
) -> Response:
    """All of one customer's subscribers together, as for one subscriber."""
    async with snapshot(deps) as conn:
        found = await repo.customer(conn, deps.schema, principal.tenant_id, customer_id)
    if found is None:
        raise NotFound(f"no customer {customer_id!r}")
    usernames = list(found.usernames)
    subject = {"subscriber_id": None, "customer_id": customer_id, "usernames": usernames}
    return await _report(deps, principal.tenant_id, usernames, found.timezone, period, first, last, subject)


@router.get("/top", response_model=list[schemas.TopUserOut])
async def top_users(
    deps: Deps,
    principal: Reader,
    by: TopBy = "bytes",
    first: Annotated[Day | None, Query(alias="from", description="First UTC day; default 29 days before `to`")] = None,
    last: Annotated[Day | None, Query(alias="to", description="Last UTC day, inclusive; default today")] = None,
    size: Annotated[int, Query(alias="limit"), limit(100)] = 10,
) -> Response:
    """The subscribers that used the most bytes, time or sessions over the days, with plan and customer."""
    last = last or deps.now().date()
    first = first or last - timedelta(days=29)
    if first > last:
        raise invalid("from", "must not be after `to`", first.isoformat())
    if (last - first).days >= MAX_DAYS:
        raise invalid("from", f"at most {MAX_DAYS} days at once", first.isoformat())
    async with snapshot(deps) as conn:
        rows = await repo.top(conn, deps.schema, principal.tenant_id, by, first, last, size)
    return json_response(
        [
            {
                "username": r["username"],
                "subscriber_id": r["subscriber_id"],
                "plan_id": r["plan_id"],
                "customer_id": r["customer_id"],
                "customer_name": r["customer_name"],
                "sessions": r["sessions"],
                "input_octets": r["input_octets"],
                "output_octets": r["output_octets"],
                "total_bytes": r["input_octets"] + r["output_octets"],
                "session_time_seconds": r["session_time_seconds"],
            }
            for r in rows
        ]
    )
