"""The same reports computed the seeds' way: at request time, joining the normalized tables (invoices with
their payments, customers, subscribers, SLA instances and credits, radacct). Written as well as we could
(lateral index lookups rather than whole-table aggregates), so that the comparison is fair."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg

from reporting.domain.aging import BUCKETS, due_date_range


async def blocked(conn: asyncpg.Connection, tenant: str, today: date) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT s.id AS subscriber_id, s.username, s.customer_id, s.suspended_at, c.name AS customer_name, c.email,
               c.phone, i.currency, count(*) AS open_invoices,
               count(*) FILTER (WHERE i.due_date < $2) AS overdue_invoices,
               sum(i.total_minor - p.paid)::bigint AS balance_minor
        FROM raw.subscribers s
        JOIN raw.customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id
        JOIN raw.invoices i ON i.tenant_id = s.tenant_id AND i.customer_id = s.customer_id AND i.status = 'open'
        CROSS JOIN LATERAL (SELECT coalesce(sum(amount_minor), 0) AS paid FROM raw.payments p
                            WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id) p
        WHERE s.tenant_id = $1 AND s.status = 'suspended' AND i.total_minor - p.paid > 0
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
        """,
        tenant,
        today,
    )
    return rows


async def aging(conn: asyncpg.Connection, tenant: str, as_of: date, group: str) -> list[dict[str, Any]]:
    """Balance = total - payments received by the end of as_of; grouped by the customer's partner/country."""
    cutoff = datetime.combine(as_of + timedelta(days=1), time(), UTC)
    sums, args = [], [tenant, as_of, cutoff]
    for bucket in BUCKETS:
        earliest, latest = due_date_range(bucket, as_of)
        conds = []
        if earliest is not None:
            args.append(earliest)
            conds.append(f"i.due_date >= ${len(args)}")
        if latest is not None:
            args.append(latest)
            conds.append(f"i.due_date <= ${len(args)}")
        sums.append(f"coalesce(sum(i.total_minor - p.paid) FILTER (WHERE {' AND '.join(conds)}), 0)::bigint")
    column = "c.partner_id" if group == "partner_id" else "c.billing_country"
    # Any invoice issued by then, not voided by then, with a balance left after the payments received by then. (Not
    # "status = 'open'" for today: an invoice whose void is dated tomorrow is void now but still owed today.)
    rows = await conn.fetch(
        f"""
        SELECT {column} AS grp, i.currency, count(*) AS n, sum(i.total_minor - p.paid)::bigint AS total,
               {", ".join(sums)}
        FROM raw.invoices i
        JOIN raw.customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id
        CROSS JOIN LATERAL (SELECT coalesce(sum(amount_minor), 0) AS paid FROM raw.payments p
                            WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id AND p.received_at < $3) p
        WHERE i.tenant_id = $1 AND i.issue_date <= $2
          AND (i.voided_at IS NULL OR i.voided_at >= $3) AND i.total_minor - p.paid > 0
        GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2
        """,
        *args,
    )
    return [
        {"group": r["grp"], "currency": r["currency"], "invoice_count": r["n"], "total_minor": r["total"],
         "buckets_minor": {b.name: r[4 + n] for n, b in enumerate(BUCKETS)}}
        for r in rows
    ]  # fmt: skip


async def services(conn: asyncpg.Connection, tenant: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT s.id, s.username, s.status, s.created_at, s.suspended_at, s.customer_id, c.name, s.plan_id,
                  s.activated_at
           FROM raw.subscribers s LEFT JOIN raw.customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id
           WHERE s.tenant_id = $1 AND s.status = 'active' ORDER BY s.id""",
        tenant,
    )
    return rows


def as_csv(rows: list[asyncpg.Record]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["subscriber_id", "username", "status", "created_at", "suspended_at", "customer_id",
                     "customer_name", "plan_id", "activated_at"])  # fmt: skip
    for r in rows:
        writer.writerow(
            [v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else "" if v is None else v for v in r]
        )
    return out.getvalue()


async def sla(conn: asyncpg.Connection, tenant: str, resolved: bool | None, min_credit: int) -> dict[str, Any]:
    """min_credit in minor units (the bench's currencies all have two decimals)."""
    where = "b.tenant_id = $1 AND cr.credited >= $2"
    if resolved is not None:
        where += " AND b.resolved_at IS NOT NULL" if resolved else " AND b.resolved_at IS NULL"
    base = f"""FROM raw.sla_breaches b
               CROSS JOIN LATERAL (SELECT coalesce(sum(amount_minor), 0) AS credited FROM raw.sla_credits c
                                   WHERE c.tenant_id = b.tenant_id AND c.breach_id = b.id) cr
               WHERE {where}"""
    counts = await conn.fetchrow(
        f"SELECT count(*) AS total, count(*) FILTER (WHERE b.resolved_at IS NOT NULL) AS resolved {base}",
        tenant,
        min_credit,
    )
    credits = await conn.fetch(
        f"SELECT b.currency, sum(cr.credited)::bigint AS s {base} AND cr.credited > 0 GROUP BY 1 ORDER BY 1",
        tenant,
        min_credit,
    )
    page = await conn.fetch(
        f"""SELECT b.id, cr.credited, cu.name, i.service_name
            FROM (SELECT b.*, cr.credited {base} ORDER BY b.detected_at DESC, b.id LIMIT 100) b
            JOIN raw.sla_instances i ON i.tenant_id = b.tenant_id AND i.id = b.instance_id
            JOIN raw.customers cu ON cu.tenant_id = i.tenant_id AND cu.id = i.customer_id
            CROSS JOIN LATERAL (SELECT b.credited) cr
            ORDER BY b.detected_at DESC, b.id""",
        tenant,
        min_credit,
    )
    return {
        "total": counts["total"],
        "resolved": counts["resolved"],
        "credits": [(r["currency"], r["s"]) for r in credits],
        "page": [(r["id"], r["credited"], r["name"]) for r in page],
    }


async def sessions(
    conn: asyncpg.Connection, tenant: str, username: str | None, start: datetime, end: datetime
) -> dict[str, Any]:
    user = "AND username = $4" if username else ""
    args: list[Any] = [tenant, start, end] + ([username] if username else [])
    summary = await conn.fetchrow(
        f"""SELECT count(*) AS n, coalesce(sum(acctinputoctets), 0)::bigint AS i,
                   coalesce(sum(acctoutputoctets), 0)::bigint AS o, coalesce(sum(acctsessiontime), 0)::bigint AS t
            FROM raw.radacct WHERE tenant_id = $1 {user}
              AND coalesce(acctstoptime, acctupdatetime) BETWEEN $2 AND $3""",
        *args,
    )
    # The columns the endpoint shows, as the seed's endpoint would read them (not only the keys compared).
    page = await conn.fetch(
        f"""SELECT r.acctuniqueid, s.id AS subscriber_id, r.username, r.acctsessionid, r.nasid, r.nasipaddress,
                   r.framedipaddress, r.acctstarttime, r.acctstoptime, coalesce(r.acctstoptime, r.acctupdatetime),
                   r.acctsessiontime, r.acctinputoctets, r.acctoutputoctets, r.acctterminatecause
            FROM raw.radacct r LEFT JOIN raw.subscribers s ON s.tenant_id = r.tenant_id AND s.username = r.username
            WHERE r.tenant_id = $1 {user.replace("username", "r.username")}
              AND coalesce(r.acctstoptime, r.acctupdatetime) BETWEEN $2 AND $3
            ORDER BY coalesce(r.acctstoptime, r.acctupdatetime) DESC, r.acctuniqueid DESC LIMIT 100""",
        *args,
    )
    return {
        "totals": (summary["n"], summary["i"], summary["o"], summary["t"]),
        "page": [(r["acctuniqueid"], r["subscriber_id"]) for r in page],
    }
