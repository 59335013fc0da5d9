"""Set-based queries of the bill run: one statement per kind of row for a whole batch of subscriptions.

Every query is filtered by tenant (each key carries its tenant_id); rows are locked in one order (the order
of the keys given, sorted by the caller) so that concurrent runners never deadlock on them.
"""

# ruff: noqa: S608 - SQL is composed only with our own table names; values are bound parameters

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.tables import (
    applications,
    credit_entries,
    customer_credits,
    customers,
    document_counters,
    invoice_lines,
    invoices,
    plan_changes,
    plans,
    subscribers,
    subscriptions,
    usage_periods,
    usage_resets,
    usage_samples,
)


async def claim_due_subscriptions(
    session: AsyncSession, now: datetime, limit: int, tenant_id: str | None = None
) -> Sequence[Row[Any]]:
    """Up to `limit` active subscriptions whose next cycle may close, locked so that other runners skip them:
    two runners claim disjoint batches and work at the same time."""
    tenant = [subscriptions.c.tenant_id == tenant_id] if tenant_id is not None else []
    stmt = (
        select(subscriptions)
        .where(*tenant, subscriptions.c.status == "active", subscriptions.c.next_close_at <= now)
        .order_by(subscriptions.c.next_close_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).all()


def _keys(keys: Sequence[tuple[str, ...]]) -> tuple[str, dict[str, list[str]]]:
    """`unnest(...) AS k(k0, k1, ...)` of distinct keys in sorted order (one lock order), and its parameters."""
    ordered = sorted(set(keys))
    width = len(ordered[0])
    columns = ", ".join(f"CAST(:k{i} AS text[])" for i in range(width))
    names = ", ".join(f"k{i}" for i in range(width))
    return f"unnest({columns}) AS k({names})", {f"k{i}": [key[i] for key in ordered] for i in range(width)}


async def _rows(session: AsyncSession, sql: str, keys: Sequence[tuple[str, ...]]) -> Sequence[Row[Any]]:
    source, params = _keys(keys)
    return (await session.execute(text(sql.format(keys=source)), params)).all()


async def plans_by_id(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Row[Any]]:
    """(tenant, plan id) -> plan."""
    if not keys:
        return {}
    sql = f"SELECT p.* FROM {{keys}} JOIN {plans.name} p ON p.tenant_id = k.k0 AND p.id = k.k1"
    return {(r.tenant_id, r.id): r for r in await _rows(session, sql, keys)}


async def subscribers_by_id(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Row[Any]]:
    """(tenant, subscriber id) -> our copy of the subscriber."""
    if not keys:
        return {}
    sql = f"SELECT s.* FROM {{keys}} JOIN {subscribers.name} s ON s.tenant_id = k.k0 AND s.subscriber_id = k.k1"
    return {(r.tenant_id, r.subscriber_id): r for r in await _rows(session, sql, keys)}


async def customers_by_id(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Row[Any]]:
    """(tenant, customer id) -> our copy of the customer."""
    if not keys:
        return {}
    sql = f"SELECT c.* FROM {{keys}} JOIN {customers.name} c ON c.tenant_id = k.k0 AND c.customer_id = k.k1"
    return {(r.tenant_id, r.customer_id): r for r in await _rows(session, sql, keys)}


async def irregular(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """(tenant, subscription id) of those that have a scheduled or applied plan change (not superseded),
    closed periods waiting for re-billing, or usage counters reset (their usage counts from the reset)."""
    if not keys:
        return set()
    sql = f"""
        SELECT k.k0, k.k1 FROM {{keys}}
        WHERE EXISTS (SELECT 1 FROM {plan_changes.name} c WHERE c.tenant_id = k.k0 AND c.subscription_id = k.k1
                        AND c.status <> 'superseded')
           OR EXISTS (SELECT 1 FROM {usage_periods.name} u WHERE u.tenant_id = k.k0 AND u.subscription_id = k.k1
                        AND u.dirty_since IS NOT NULL)
           OR EXISTS (SELECT 1 FROM {usage_resets.name} r WHERE r.tenant_id = k.k0 AND r.subscription_id = k.k1)
        """
    return {(r.k0, r.k1) for r in await _rows(session, sql, keys)}


async def usage_of_windows(
    session: AsyncSession, windows: Sequence[tuple[str, str, datetime, datetime]]
) -> list[tuple[int, int]]:
    """(input, output) octets of each (tenant, username, starts_at, ends_at) window, in the order given: the
    rule of `subscriptions_repo.usage_between` (per session active in the window, its highest counters before
    the end minus its highest before the start), for all windows in one statement."""
    if not windows:
        return []
    rows = await session.execute(
        text(
            f"""
            WITH w AS (
                SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:usernames AS text[]),
                                     CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
                    WITH ORDINALITY AS w(tenant_id, username, starts_at, ends_at, i)
            ), active AS (
                SELECT DISTINCT w.i, s.session_key
                FROM w JOIN {usage_samples.name} s
                  ON s.tenant_id = w.tenant_id AND s.username = w.username
                 AND s.bucket_start >= w.starts_at AND s.bucket_start < w.ends_at
            ), per_session AS (
                SELECT a.i,
                       max(s.input_octets)
                         - coalesce(max(s.input_octets) FILTER (WHERE s.bucket_start < w.starts_at), 0) AS input,
                       max(s.output_octets)
                         - coalesce(max(s.output_octets) FILTER (WHERE s.bucket_start < w.starts_at), 0) AS output
                FROM active a JOIN w ON w.i = a.i
                JOIN {usage_samples.name} s
                  ON s.tenant_id = w.tenant_id AND s.session_key = a.session_key AND s.bucket_start < w.ends_at
                GROUP BY a.i, a.session_key
            )
            SELECT i, CAST(sum(input) AS bigint), CAST(sum(output) AS bigint) FROM per_session GROUP BY i
            """
        ),
        {
            "tenants": [w[0] for w in windows],
            "usernames": [w[1] for w in windows],
            "starts": [w[2] for w in windows],
            "ends": [w[3] for w in windows],
        },
    )
    out = [(0, 0)] * len(windows)
    for i, used_in, used_out in rows.all():
        out[int(i) - 1] = (int(used_in), int(used_out))
    return out


async def lock_credits(session: AsyncSession, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """(tenant, customer, currency) -> credit balance, the rows locked (in key order) until the transaction ends."""
    if not keys:
        return {}
    sql = f"""
        SELECT c.tenant_id, c.customer_id, c.currency, c.balance_minor FROM {{keys}}
        JOIN {customer_credits.name} c ON c.tenant_id = k.k0 AND c.customer_id = k.k1 AND c.currency = k.k2
        ORDER BY k.k0, k.k1, k.k2 FOR UPDATE OF c
        """
    return {(r.tenant_id, r.customer_id, r.currency): int(r.balance_minor) for r in await _rows(session, sql, keys)}


async def allocate_numbers(session: AsyncSession, tenant_id: str, series: str, year: int, count: int) -> int:
    """Take `count` consecutive numbers of (tenant, series, year) at once; returns the first. Gapless as
    `repository.next_sequence`: the counter row stays locked until the transaction ends, a rollback gives the
    whole block back."""
    stmt = text(
        f"""
        INSERT INTO {document_counters.name} AS d (tenant_id, series, year, last_value)
        VALUES (:tenant, :series, :year, :count)
        ON CONFLICT (tenant_id, series, year) DO UPDATE SET last_value = d.last_value + EXCLUDED.last_value
        RETURNING d.last_value
        """
    )
    params = {"tenant": tenant_id, "series": series, "year": year, "count": count}
    last = int((await session.execute(stmt, params)).scalar_one())
    return last - count + 1


async def insert_rows(session: AsyncSession, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows of one of the bill run's tables with one multi-row statement per page."""
    if rows:
        await session.execute(insert(_TABLES[table_name]), list(rows))


_TABLES = {t.name: t for t in (invoices, invoice_lines, usage_periods, applications, credit_entries)}


async def use_credits(session: AsyncSession, used: Sequence[tuple[str, str, str, int]]) -> None:
    """Lower each (tenant, customer, currency) credit balance by the amount used (rows locked by lock_credits)."""
    if not used:
        return
    await session.execute(
        text(
            f"""
            UPDATE {customer_credits.name} c SET balance_minor = c.balance_minor - u.used
            FROM unnest(CAST(:tenants AS text[]), CAST(:customers AS text[]), CAST(:currencies AS text[]),
                        CAST(:used AS bigint[])) AS u(tenant_id, customer_id, currency, used)
            WHERE c.tenant_id = u.tenant_id AND c.customer_id = u.customer_id AND c.currency = u.currency
            """
        ),
        {
            "tenants": [u[0] for u in used],
            "customers": [u[1] for u in used],
            "currencies": [u[2] for u in used],
            "used": [u[3] for u in used],
        },
    )


async def advance_subscriptions(session: AsyncSession, moves: Sequence[tuple[str, str, datetime]]) -> None:
    """(tenant, subscription, next close) for each closed cycle: the next cycle becomes the one to close."""
    if not moves:
        return
    await session.execute(
        text(
            f"""
            UPDATE {subscriptions.name} s SET next_cycle = s.next_cycle + 1, next_close_at = m.next_close_at
            FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[]), CAST(:closes AS timestamptz[]))
                AS m(tenant_id, id, next_close_at)
            WHERE s.tenant_id = m.tenant_id AND s.id = m.id
            """
        ),
        {"tenants": [m[0] for m in moves], "ids": [m[1] for m in moves], "closes": [m[2] for m in moves]},
    )
