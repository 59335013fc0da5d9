"""GET /analytics/support/sla: the support desk against its SLAs, from the tickets read model. Ops and support.

Over the tickets opened in [from, to) (default: the 30 days before now): how many, how many of them were answered
and resolved, the first-response and resolution times (wall-clock seconds from opening; median and p90) and the
breach rate (tickets with either clock breached / tickets opened), in total, by priority and by type; tickets per
1,000 subscribers by region (of the customer) and by NAS (of the affected lines' latest session). Beside them,
`resolved` counts the resolutions in the window, whenever the ticket was opened, and `backlog` the tickets active
now by age. `rows` is the same figures flat (one row per dimension and key), for BI.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.inputs import NaiveOrAwareTimestamp
from reporting.entrypoints.api import Deps, invalid, json_response, snapshot
from reporting.tickets.adapters import repository as repo
from reporting.tickets.domain.sla_report import BACKLOG_BUCKETS, backlog_bucket, per_thousand, quantile, rate

router = APIRouter(prefix="/analytics/support", tags=["support analytics"])
ROLES = (Role.OPS, Role.SUPPORT)
Reader = Annotated[Principal, Depends(require_roles(*ROLES))]
DEFAULT_SPAN = timedelta(days=30)
MAX_SPAN = timedelta(days=366)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _figures(tickets: Sequence[Any]) -> dict[str, Any]:
    responses = [t.response_seconds for t in tickets if t.response_seconds is not None]
    resolutions = [t.resolution_seconds for t in tickets if t.resolution_seconds is not None]
    breached = sum(1 for t in tickets if t.breached)
    return {
        "opened": len(tickets), "answered": len(responses), "resolved": len(resolutions), "breached": breached,
        "breach_rate": rate(breached, len(tickets)),
        "first_response_median_s": quantile(responses, 0.5), "first_response_p90_s": quantile(responses, 0.9),
        "resolution_median_s": quantile(resolutions, 0.5), "resolution_p90_s": quantile(resolutions, 0.9),
    }  # fmt: skip


def _grouped(tickets: Sequence[Any], attribute: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for t in tickets:
        groups[getattr(t, attribute)].append(t)
    return {key: _figures(rows) for key, rows in sorted(groups.items())}


@router.get("/sla", response_model=dict[str, Any])
async def support_sla(
    deps: Deps,
    principal: Reader,
    period_from: Annotated[
        NaiveOrAwareTimestamp | None, Query(alias="from", description="Default: 30 days before `to`")
    ] = None,
    period_to: Annotated[NaiveOrAwareTimestamp | None, Query(alias="to", description="Default: now")] = None,
) -> Response:
    now = deps.now()
    end = _utc(period_to) if period_to is not None else now
    start = _utc(period_from) if period_from is not None else end - DEFAULT_SPAN
    if start >= end:
        raise invalid("from", "must be before to", start.isoformat())
    if end - start > MAX_SPAN:
        raise invalid("from", f"at most {MAX_SPAN.days} days at once", start.isoformat())
    tenant = principal.tenant_id
    async with snapshot(deps) as conn:
        tickets = await repo.opened_in(conn, deps.schema, tenant, start, end)
        resolved = await repo.resolved_in(conn, deps.schema, tenant, start, end)
        active = await repo.backlog(conn, deps.schema, tenant)
        regions = await repo.by_region(conn, deps.schema, tenant, start, end)
        nas = await repo.by_nas(conn, deps.schema, tenant, start, end)
    backlog = dict.fromkeys((name for name, _ in BACKLOG_BUCKETS), 0)
    for opened_at in active:
        backlog[backlog_bucket(now - opened_at)] += 1
    total = _figures(tickets)
    by_priority = _grouped(tickets, "priority")
    by_type = _grouped(tickets, "ticket_type")
    per_region = [
        {"region": r, "tickets": int(n), "subscribers": int(s), "per_1000_subscribers": per_thousand(int(n), int(s))}
        for r, n, s in regions
    ]
    per_nas = [
        {"nas_id": k, "tickets": int(n), "subscribers": int(s), "per_1000_subscribers": per_thousand(int(n), int(s))}
        for k, n, s in nas
    ]
    rows = [{"dimension": "total", "key": "all", **total}]
    rows += [{"dimension": "priority", "key": k, **v} for k, v in by_priority.items()]
    rows += [{"dimension": "ticket_type", "key": k, **v} for k, v in by_type.items()]
    return json_response({
        "from": start, "to": end, "opened": total["opened"], "resolved": resolved, "total": total,
        "by_priority": by_priority, "by_type": by_type, "backlog": {"as_of": now, "by_age": backlog,
        "total": len(active)}, "per_region": per_region, "per_nas": per_nas, "rows": rows,
    })  # fmt: skip
