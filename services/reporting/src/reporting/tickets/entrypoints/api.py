"""GET /analytics/support/sla: the support desk against its SLAs, from the tickets read model; and
GET /analytics/support/tickets/{ticket_id}/sessions: what a ticket's lines are doing. Ops and support.

The SLA report: over the tickets opened in [from, to) (default: the 30 days before now): how many, how many of them
were answered and resolved, the first-response and resolution times (wall-clock seconds from opening; median and
p90) and the breach rate (tickets with either clock breached / tickets opened), in total, by priority and by type;
tickets per 1,000 subscribers by region (of the customer) and by NAS (of the affected lines' latest session). Beside
them, `resolved` counts the resolutions in the window, whenever the ticket was opened, and `backlog` the tickets
active now by age. `rows` is the same figures flat (one row per dimension and key), for BI.

A ticket's sessions: per affected subscriber, in the ticket's order, its sessions open now (the rule of online now)
and those started in the last `days` days, with their sums (domain/ticket_sessions.py). Another tenant's ticket
is 404, like an unknown one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.errors import NotFound
from bss_runtime.inputs import Id, NaiveOrAwareTimestamp, limit
from reporting.analytics.domain.concurrency import STALE_AFTER
from reporting.entrypoints.api import Deps, invalid, json_response, snapshot
from reporting.tickets.adapters import repository as repo
from reporting.tickets.domain import ticket_sessions as lines
from reporting.tickets.domain.sla_report import BACKLOG_BUCKETS, backlog_bucket, per_thousand, quantile, rate
from reporting.tickets.entrypoints import schemas
from reporting.tickets.service_layer.ticket_sessions import ticket_sessions

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


@router.get("/tickets/{ticket_id}/sessions", response_model=schemas.TicketSessionsOut)
async def ticket_sessions_view(
    deps: Deps,
    principal: Reader,
    ticket_id: Id,
    days: Annotated[
        int, limit(lines.MAX_DAYS), Query(description="Recent: the sessions started in these last days")
    ] = lines.DEFAULT_DAYS,
    limit_: Annotated[
        int, limit(lines.MAX_LIMIT), Query(alias="limit", description="Recent sessions listed per subscriber")
    ] = lines.DEFAULT_LIMIT,
) -> Response:
    """The ticket and, per affected subscriber (in the ticket's order), its sessions open now, its sessions
    started in the last `days` days (newest first, at most `limit`) and their sums."""
    now = deps.now()
    async with snapshot(deps) as conn:
        found = await ticket_sessions(
            conn, deps.schema, principal.tenant_id, ticket_id, now=now, days=days, limit=limit_
        )
    if found is None:
        raise NotFound(f"ticket {ticket_id} not found")
    t = found.ticket
    return json_response(
        {
            "ticket": {
                "ticket_id": t.ticket_id,
                "status": t.status,
                "ticket_type": t.ticket_type,
                "customer_id": t.customer_id,
            },
            "as_of": now,
            "window_from": found.since,
            "days": days,
            "limit": limit_,
            "stale_after_seconds": int(STALE_AFTER.total_seconds()),
            "subscribers": [
                {
                    "subscriber_id": line.subscriber_id,
                    "username": line.username,
                    "online": bool(line.open),
                    "open": [_open_session(r) for r in line.open],
                    "recent": [_recent_session(r) for r in line.recent],
                    "window": {
                        "sessions": line.totals.sessions,
                        "input_octets": line.totals.input_octets,
                        "output_octets": line.totals.output_octets,
                        "session_time_seconds": line.totals.session_time_seconds,
                    },
                    "has_more": line.totals.sessions > len(line.recent),
                }
                for line in found.lines
            ],
        }
    )


def _open_session(r: Any) -> dict[str, Any]:
    return {
        "session_key": r.session_key,
        "session_id": r.acct_session_id,
        "start_time": r.start_time,
        "last_update": r.last_update,
        "nas_id": r.nas_id,
        "nas_ip_address": r.nas_ip_address,
        "framed_ip_address": r.framed_ip_address,
        "framed_ipv6_prefix": r.framed_ipv6_prefix,
        "session_duration_seconds": r.session_time_seconds,
        "input_octets": r.input_octets,
        "output_octets": r.output_octets,
    }


def _recent_session(r: Any) -> dict[str, Any]:
    return {
        "session_key": r.session_key,
        "session_id": r.acct_session_id,
        "start_time": r.start_time,
        "stop_time": r.stop_time,
        "last_update": r.last_update,
        "stopped_by": r.stop_source,
        "terminate_cause": r.terminate_cause,
        "session_duration_seconds": r.session_time_seconds,
        "input_octets": r.input_octets,
        "output_octets": r.output_octets,
        "nas_id": r.nas_id,
        "nas_ip_address": r.nas_ip_address,
        "framed_ip_address": r.framed_ip_address,
    }
