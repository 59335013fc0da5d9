"""GET /billing/reports/*: the six reports, read from this service's own read models.

Who sees what (admin sees everything):
  blocked-customers   finance, collections, support
  aging/*             finance, collections
  services/export     finance, ops
  sla-breaches        finance, ops
  sessions/history    ops, support
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bss_contracts.money import to_major
from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.db import Database
from bss_runtime.inputs import Day, Id, NaiveOrAwareTimestamp, Offset, Text, decimal_between, limit
from reporting.adapters import exporters, repository
from reporting.adapters.blocked_customers import blocked_customers_json
from reporting.adapters.repository import AgingGroup, AgingRow
from reporting.adapters.session_report import session_report
from reporting.adapters.settings import load_priority_thresholds
from reporting.config import Settings
from reporting.domain.usage import gigabytes, hours
from reporting.entrypoints import schemas

T = TypeVar("T")

router = APIRouter(prefix="/billing/reports", tags=["reports"])

BLOCKED_ROLES = (Role.FINANCE, Role.COLLECTIONS, Role.SUPPORT)
AGING_ROLES = (Role.FINANCE, Role.COLLECTIONS)
EXPORT_ROLES = (Role.FINANCE, Role.OPS)
SLA_ROLES = (Role.FINANCE, Role.OPS)
SESSION_ROLES = (Role.OPS, Role.SUPPORT)
DEFAULT_SESSION_WINDOW = timedelta(days=30)
MAX_DAYS_BLOCKED = 100 * 366
MAX_CREDIT_AMOUNT = 10**12  # major units: in minor units of any currency it still fits a bigint


@dataclass(frozen=True)
class Reports:
    """What the endpoints need: the database, the read models' schema, settings and a clock; `reads`, an engine
    whose pool hands out connections without pre-ping, for the reports that are one statement (`on_driver`)."""

    database: Database
    schema: str
    settings: Settings
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    reads: AsyncEngine | None = None

    def now(self) -> datetime:
        return self.clock()


async def reports(request: Request) -> Reports:
    deps: Reports = request.app.state.reports
    return deps


Deps = Annotated[Reports, Depends(reports)]


def invalid(field: str, message: str, value: Any) -> RequestValidationError:
    """A 422 in FastAPI's own shape, for rules that involve more than one query parameter."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", field), "msg": message, "input": value}])


@asynccontextmanager
async def driver_connection(deps: Reports) -> AsyncIterator[Any]:
    """A pooled connection's asyncpg connection, outside any transaction: for a report that is one statement
    (which sees one snapshot by itself) this saves the BEGIN and COMMIT round trips."""
    async with deps.database.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        yield raw.driver_connection


# A pooled connection the server closed (restart, idle timeout, admin shutdown) fails its first statement so
# (InternalClientError: the server's goodbye arrived while the connection was idle in the pool).
_DROPPED = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
)


async def on_driver(deps: Reports, read: Callable[[Any], Awaitable[T]]) -> T:
    """`read(asyncpg connection)` on a pooled connection, outside any transaction: for a report that is one
    statement (which sees one snapshot by itself) this saves the BEGIN and COMMIT round trips, and the reads
    pool's missing pre-ping saves three more. A connection the server dropped while pooled fails the statement:
    it is discarded and `read` runs once more on a new connection (it only reads)."""
    engine = deps.reads or deps.database.engine
    for attempt in (1, 2):
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            try:
                return await read(raw.driver_connection)
            except _DROPPED:
                await conn.invalidate()
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")


@asynccontextmanager
async def snapshot(deps: Reports) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction: the queries of one report see one consistent state."""
    async with deps.database.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin():
            yield conn


def json_response(content: Any) -> Response:
    """The report as JSON bytes, serialized by pydantic-core in one go. The shapes are those of `schemas`
    (declared as each route's response_model, for the OpenAPI document); the content is built by this
    service from its own data, so it is not validated once more on the way out."""
    return Response(to_json(content), media_type="application/json")


def _utc(value: datetime) -> datetime:
    """Query datetimes without a zone are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---------------------------------------------------------------- blocked customers


@router.get("/blocked-customers", response_model=list[schemas.BlockedCustomer])
async def blocked_customers(
    deps: Deps,
    principal: Annotated[Principal, Depends(require_roles(*BLOCKED_ROLES))],
    min_days_blocked: Annotated[int, Query(ge=0, le=MAX_DAYS_BLOCKED)] = 0,
    max_days_blocked: Annotated[int | None, Query(ge=0, le=MAX_DAYS_BLOCKED)] = None,
    include_zero_balance: Annotated[
        bool, Query(description="Also list suspended subscribers whose customer owes nothing")
    ] = False,
) -> Response:
    """Suspended subscribers whose customer has an outstanding balance, with the recommended next action and
    priority; sorted by priority, then by days blocked (longest first)."""
    if max_days_blocked is not None and max_days_blocked < min_days_blocked:
        raise invalid("max_days_blocked", "must not be less than min_days_blocked", max_days_blocked)
    now = deps.now()
    # days_blocked >= n  <=>  suspended at or before now - n days;  <= n  <=>  after now - (n + 1) days
    until = now - timedelta(days=min_days_blocked)
    since = None if max_days_blocked is None else now - timedelta(days=max_days_blocked + 1)

    async def read(driver: Any) -> str:
        thresholds = await load_priority_thresholds(driver, principal.tenant_id)
        # Thousands of rows: sorted, ranked and written as JSON by PostgreSQL (the shape is schemas.BlockedCustomer).
        return await blocked_customers_json(
            driver, deps.schema, principal.tenant_id, now=now, suspended_from=since, suspended_until=until,
            include_zero_balance=include_zero_balance, thresholds=thresholds,
        )  # fmt: skip

    return Response(await on_driver(deps, read), media_type="application/json")


# ---------------------------------------------------------------- aging


def _aging_fields(row: AgingRow) -> dict[str, Any]:
    return {
        "currency": row.currency,
        "invoice_count": row.invoice_count,
        "total_outstanding": to_major(row.total_minor, row.currency),
        "total_outstanding_minor": row.total_minor,
        "buckets": {k: to_major(v, row.currency) for k, v in row.buckets_minor.items()},
        "buckets_minor": row.buckets_minor,
    }


AsOfQuery = Annotated[
    Day | None, Query(description="Age balances as they stood at the end of this day (UTC); default today")
]


async def _aging(deps: Reports, tenant: str, as_of: date | None, group: AgingGroup) -> list[AgingRow]:
    async with snapshot(deps) as conn:
        return await repository.aging(conn, deps.schema, tenant, as_of=as_of or deps.now().date(), group=group)


@router.get("/aging/by-partner", response_model=list[schemas.PartnerAgingRow])
async def aging_by_partner(
    deps: Deps,
    principal: Annotated[Principal, Depends(require_roles(*AGING_ROLES))],
    as_of: AsOfQuery = None,
) -> Response:
    """Open receivables by partner and currency, in aging buckets by days past due as of `as_of`."""
    rows = await _aging(deps, principal.tenant_id, as_of, "partner_id")
    async with snapshot(deps) as conn:
        names = await repository.partner_names(conn, deps.schema, principal.tenant_id)
    return json_response(
        [{"partner_id": r.group, "partner_name": names.get(r.group or "")} | _aging_fields(r) for r in rows]
    )


@router.get("/aging/by-region", response_model=list[schemas.RegionAgingRow])
async def aging_by_region(
    deps: Deps,
    principal: Annotated[Principal, Depends(require_roles(*AGING_ROLES))],
    as_of: AsOfQuery = None,
) -> Response:
    """Open receivables by billing country and currency, in aging buckets by days past due as of `as_of`."""
    rows = await _aging(deps, principal.tenant_id, as_of, "billing_country")
    return json_response([{"region": r.group} | _aging_fields(r) for r in rows])


# ---------------------------------------------------------------- services export

_TIMESTAMPS = {"created_at", "suspended_at", "activated_at"}


@router.get("/services/export", response_class=StreamingResponse)
async def services_export(
    deps: Deps,
    principal: Annotated[Principal, Depends(require_roles(*EXPORT_ROLES))],
    export_format: Annotated[exporters.Format, Query(alias="format")] = "csv",
    include_suspended: bool = False,
) -> StreamingResponse:
    """Active (optionally also suspended) subscriber services, streamed: csv, json, xlsx or parquet."""
    tenant, columns = principal.tenant_id, repository.EXPORT_COLUMNS
    if export_format == "xlsx":
        async with snapshot(deps) as conn:
            count = await repository.count_services(conn, deps.schema, tenant, include_suspended=include_suspended)
        if count > exporters.XLSX_MAX_ROWS:
            raise invalid("format", f"{count} rows do not fit in one xlsx sheet; use csv or parquet", export_format)

    chunk_rows = deps.settings.export_chunk_rows

    async def typed_chunks() -> AsyncIterator[Any]:
        async with snapshot(deps) as conn:
            async for chunk in repository.services(
                conn, deps.schema, tenant, include_suspended=include_suspended, chunk_rows=chunk_rows
            ):
                yield chunk

    async def csv_body() -> AsyncIterator[bytes]:
        async with snapshot(deps) as conn:
            async for data in repository.services_csv(conn, deps.schema, tenant, include_suspended=include_suspended):
                yield data

    async def json_chunks() -> AsyncIterator[list[str]]:
        async with snapshot(deps) as conn:
            async for chunk in repository.services_json(
                conn, deps.schema, tenant, include_suspended=include_suspended, chunk_rows=chunk_rows
            ):
                yield chunk

    body: AsyncIterator[bytes]
    if export_format == "csv":
        body = csv_body()
    elif export_format == "json":
        body = exporters.json_stream(json_chunks())
    elif export_format == "xlsx":
        body = exporters.xlsx_stream(typed_chunks(), columns, _TIMESTAMPS)
    else:
        body = exporters.parquet_stream(
            typed_chunks(), columns, _TIMESTAMPS, row_group_rows=deps.settings.parquet_row_group_rows
        )
    filename = f"services_export_{deps.now():%Y%m%d}.{export_format}"
    return StreamingResponse(
        body,
        media_type=exporters.MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ---------------------------------------------------------------- SLA breaches


@router.get("/sla-breaches", response_model=schemas.SlaBreachReport)
async def sla_breaches(
    deps: Deps,
    principal: Annotated[Principal, Depends(require_roles(*SLA_ROLES))],
    resolved: bool | None = None,
    min_credit_amount: Annotated[
        Decimal,
        decimal_between(0, MAX_CREDIT_AMOUNT),
        Query(description="Minimum issued credit, in major units of the breach's currency"),
    ] = Decimal(0),
    limit: Annotated[int, limit(1000)] = 100,
    offset: Offset = 0,
) -> Response:
    """SLA breaches with the credits issued for them; the summary covers every breach the filters select."""
    async with snapshot(deps) as conn:
        page = await repository.sla_breaches(
            conn, deps.schema, principal.tenant_id, resolved=resolved, min_credit=min_credit_amount,
            limit=limit, offset=offset,
        )  # fmt: skip
    breaches = [
        dict(
            breach_id=r.breach_id,
            breach_type=r.breach_type,
            severity=r.severity,
            detected_at=r.detected_at,
            resolved_at=r.resolved_at,
            resolved=r.resolved_at is not None,
            resolution=r.resolution,
            target_value=r.target_value,
            actual_value=r.actual_value,
            deviation_percent=r.deviation_percent,
            period_start=r.period_start,
            period_end=r.period_end,
            currency=r.currency,
            credit_amount=to_major(r.credit_issued_minor, r.currency) if r.currency else 0.0,
            credit_amount_minor=r.credit_issued_minor,
            expected_credit_amount=(
                to_major(r.expected_credit_minor, r.currency) if r.expected_credit_minor is not None else None
            ),
            expected_credit_amount_minor=r.expected_credit_minor,
            instance_id=r.instance_id,
            customer_id=r.customer_id,
            customer_name=r.customer_name,
            service_id=r.service_id,
            service_name=r.service_name,
            sla_status="resolved" if r.resolved_at is not None else "breached",
        )
        for r in page.rows
    ]
    return json_response(
        dict(
            summary=dict(
                total_breaches=page.total,
                resolved_breaches=page.resolved,
                unresolved_breaches=page.total - page.resolved,
                total_credits_issued=[
                    dict(currency=c, amount=to_major(m, c), amount_minor=m) for c, m in page.credits_by_currency
                ],
            ),
            pagination=dict(limit=limit, offset=offset, has_more=offset + len(breaches) < page.total),
            breaches=breaches,
        )
    )


# ---------------------------------------------------------------- sessions


@router.get("/sessions/history", response_model=schemas.SessionHistory)
async def sessions_history(
    deps: Deps,
    principal: Annotated[Principal, Depends(require_roles(*SESSION_ROLES))],
    subscriber_id: Id | None = None,
    username: Annotated[str, Text(253)] | None = None,
    start_date: Annotated[NaiveOrAwareTimestamp | None, Query(description="Default: end_date minus 30 days")] = None,
    end_date: Annotated[NaiveOrAwareTimestamp | None, Query(description="Default: now")] = None,
    limit: Annotated[int, limit(1000)] = 100,
    offset: Offset = 0,
) -> Response:
    """Sessions whose latest accounting record (stop, or last update while open) falls in the period, newest
    first; the summary covers every session in the period, not only this page."""
    end = _utc(end_date) if end_date else deps.now()
    start = _utc(start_date) if start_date else end - DEFAULT_SESSION_WINDOW
    if start > end:
        raise invalid("end_date", "must not be before start_date", end_date)
    report = await on_driver(
        deps,
        lambda driver: session_report(
            driver, deps.schema, principal.tenant_id, subscriber_id=subscriber_id, username=username,
            start=start, end=end, limit=limit, offset=offset,
        ),
    )  # fmt: skip
    totals = report.totals
    records = [_session_record(r) for r in report.rows]
    total_bytes = totals.input_octets + totals.output_octets
    return json_response(
        dict(
            summary=dict(
                total_sessions=totals.sessions,
                returned_sessions=len(records),
                total_data_usage_gb=gigabytes(total_bytes),
                total_bytes=total_bytes,
                total_input_octets=totals.input_octets,
                total_output_octets=totals.output_octets,
                total_duration_hours=hours(totals.session_time_seconds),
                total_duration_seconds=totals.session_time_seconds,
                period_start=start,
                period_end=end,
            ),
            pagination=dict(limit=limit, offset=offset, has_more=offset + len(records) < totals.sessions),
            sessions=records,
        )
    )


def _session_record(r: Any) -> dict[str, Any]:
    total = r["input_octets"] + r["output_octets"]
    return {
        "time": r["time"],
        "subscriber_id": r["subscriber_id"],
        "username": r["username"],
        "session_id": r["acct_session_id"],
        "session_key": r["session_key"],
        "nas_id": r["nas_id"],
        "nas_ip_address": r["nas_ip_address"],
        "framed_ip_address": r["framed_ip_address"],
        "framed_ipv6_address": r["framed_ipv6_prefix"],
        "delegated_ipv6_prefix": r["delegated_ipv6_prefix"],
        "calling_station_id": r["calling_station_id"],
        "session_start_time": r["start_time"],
        "session_stop_time": r["stop_time"],
        "stopped_by": r["stop_source"],
        "session_duration_seconds": r["session_time_seconds"],
        "session_duration_hours": hours(r["session_time_seconds"]),
        "total_bytes": total,
        "total_gb": gigabytes(total),
        "input_octets": r["input_octets"],
        "output_octets": r["output_octets"],
        "upload_gb": gigabytes(r["input_octets"]),
        "download_gb": gigabytes(r["output_octets"]),
        "terminate_cause": r["terminate_cause"],
    }
