"""A ticket's lines and their sessions, read in one snapshot (rules in domain/ticket_sessions.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.tickets.adapters import repository as repo
from reporting.tickets.domain.ticket_sessions import (
    Line,
    WindowTotals,
    is_open,
    lines,
    online_cutoff,
    window_start,
)


@dataclass(frozen=True)
class TicketSessions:
    ticket: Any  # ticket_id, status, ticket_type, customer_id, subscriber_ids
    since: datetime
    lines: list[Line]


async def ticket_sessions(
    conn: AsyncConnection, schema: str, tenant: str, ticket_id: str, *, now: datetime, days: int, limit: int
) -> TicketSessions | None:
    """The ticket and, per affected subscriber, its sessions open at `now` and those of the last `days` days
    (at most `limit`), with the window's sums; None when the tenant has no such ticket."""
    found = await repo.ticket(conn, schema, tenant, ticket_id)
    if found is None:
        return None
    since = window_start(now, days)
    subscriber_ids = list(found.subscriber_ids)
    names = await repo.usernames(conn, schema, tenant, subscriber_ids) if subscriber_ids else {}
    users = sorted(set(names.values()))
    open_by: dict[str, list[Any]] = defaultdict(list)
    recent_by: dict[str, list[Any]] = defaultdict(list)
    totals_by: dict[str, WindowTotals] = {}
    if users:
        for row in await repo.unstopped_since(conn, schema, tenant, users, online_cutoff(now)):
            if is_open(row.start_time, row.stop_time, row.last_update, now):
                open_by[row.username].append(row)
        for row in await repo.started_since(conn, schema, tenant, users, since, limit):
            recent_by[row.username].append(row)
        for username, n, octets_in, octets_out, seconds in await repo.totals_since(conn, schema, tenant, users, since):
            totals_by[username] = WindowTotals(int(n), int(octets_in), int(octets_out), int(seconds))
    return TicketSessions(found, since, lines(subscriber_ids, names, open_by, recent_by, totals_by))
