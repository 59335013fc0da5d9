"""GET /analytics/network/concurrency and /analytics/network/online: peak concurrent sessions per hour or day,
per tenant or NAS, and the sessions online now (rules in domain/concurrency.py). Ops and support."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.inputs import Id, NaiveOrAwareTimestamp, Text
from reporting.analytics.adapters import concurrency as repo
from reporting.analytics.domain.concurrency import (
    ALL_NAS,
    HOUR,
    STALE_AFTER,
    Peak,
    bucket_start,
    daily_peaks,
    hourly_peaks,
)
from reporting.analytics.entrypoints import schemas
from reporting.entrypoints.api import Deps, driver_connection, invalid, json_response, snapshot

router = APIRouter(prefix="/analytics/network", tags=["network"])
ROLES = (Role.OPS, Role.SUPPORT)
Reader = Annotated[Principal, Depends(require_roles(*ROLES))]
DEFAULT_SPAN = {"hour": timedelta(days=1), "day": timedelta(days=30)}
ZoneName = Annotated[str, Text(64)]
MAX_SPAN = {"hour": timedelta(days=93), "day": timedelta(days=3 * 366)}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _peak(p: Peak) -> dict[str, Any]:
    return {"period_start": p.period_start, "peak_sessions": p.peak, "peak_at": p.at}


@router.get("/concurrency", response_model=schemas.ConcurrencyOut)
async def concurrency(
    deps: Deps,
    principal: Reader,
    period_from: Annotated[
        NaiveOrAwareTimestamp | None, Query(alias="from", description="Default: one day (hours) or 30 days before `to`")
    ] = None,
    period_to: Annotated[NaiveOrAwareTimestamp | None, Query(alias="to", description="Default: now")] = None,
    interval: Literal["hour", "day"] = "hour",
    nas_id: Annotated[Id | None, Query(description="One NAS; default: the whole tenant")] = None,
    tz: Annotated[ZoneName | None, Query(description="IANA time zone the days are counted in; default UTC")] = None,
) -> Response:
    """Exact peak concurrent sessions of each hour or day in [from, to) (hours whole: `from` rounded down, `to`
    up), and when each was first reached."""
    zone: Any = UTC
    if tz is not None:
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise invalid("tz", "not a known IANA time zone", tz) from exc
    end = _utc(period_to) if period_to is not None else deps.now()
    end = bucket_start(end, "hour") + (HOUR if bucket_start(end, "hour") != end else timedelta(0))
    start = bucket_start(_utc(period_from), "hour") if period_from is not None else end - DEFAULT_SPAN[interval]
    if start >= end:
        raise invalid("from", "must be before to", period_from.isoformat() if period_from else None)
    if end - start > MAX_SPAN[interval]:
        raise invalid("from", f"at most {MAX_SPAN[interval].days} days of {interval}s at once", start.isoformat())
    key = ALL_NAS if nas_id is None else nas_id
    async with snapshot(deps) as conn:
        if nas_id is not None and not await repo.nas_known(conn, deps.schema, principal.tenant_id, nas_id):
            raise invalid("nas_id", "no session of this NAS is known", nas_id)
        before = await repo.levels_before(conn, deps.schema, principal.tenant_id, start, key)
        kept = await repo.hours_kept(conn, deps.schema, principal.tenant_id, key, start, end)
    hours = int((end - start) / HOUR)
    peaks = hourly_peaks(before.get(key, 0), start, hours, kept)
    if interval == "day":
        peaks = daily_peaks(peaks, zone)
    highest = max(peaks, key=lambda p: p.peak, default=None)  # max keeps the first of equal ones
    return json_response(
        {
            "nas_id": nas_id,
            "interval": interval,
            "time_zone": str(zone),
            "stale_after_seconds": int(STALE_AFTER.total_seconds()),
            "period_from": start,
            "period_to": end,
            "peaks": [_peak(p) for p in peaks],
            "highest": None if highest is None else _peak(highest),
        }
    )


@router.get("/online", response_model=schemas.OnlineOut)
async def online(deps: Deps, principal: Reader) -> Response:
    """Sessions online now, in the whole tenant and per NAS: counted, not listed, so never capped."""
    now = deps.now()
    async with driver_connection(deps) as driver:  # one statement: one snapshot, no BEGIN/COMMIT round trips
        levels = await repo.levels_at(driver, deps.schema, principal.tenant_id, now)
    by_nas = sorted(((n, c) for n, c in levels.items() if n != ALL_NAS and c), key=lambda x: (-x[1], x[0]))
    return json_response(
        {
            "as_of": now,
            "online": levels.get(ALL_NAS, 0),
            "stale_after_seconds": int(STALE_AFTER.total_seconds()),
            "by_nas": [{"nas_id": n, "online": c} for n, c in by_nas],
        }
    )
