"""The blocked-customers report in one statement, rendered as JSON by PostgreSQL.

Suspended subscribers (the partial index on suspended subscribers) joined with their customer and the customer's
balances per currency (`customer_balances`, kept from the events), so the statement reads one row per listed
subscriber and currency, not the invoices. The days blocked, next action and priority are computed in the same
statement by expressions written from `domain/collections.py`: its constants and the tenant's
`PriorityThresholds`, level by level and rule by rule (`priority_sql`, `next_action_sql`), each balance compared
with the threshold in minor units of its own currency (exact). The rows are sorted as the report is (priority,
days blocked longest first, subscriber, currency, in code-point order) and aggregated into one JSON array
(`json_agg` of one record per row: cheaper in PostgreSQL than building each object key by key), so the response
body is the statement's one text value.

`overdue_invoices` counts the open invoices billing declared overdue by `now`: the kept count, less the open
invoices declared overdue later than `now` (a tenant-wide index probe that finds none unless the clock is behind
billing's).
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reporting.domain import collections
from reporting.domain.collections import NextAction, Priority, PriorityThresholds


class Params:
    """Positional parameters of one asyncpg statement: `add` returns the placeholder of a value."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


EXPONENTS = (0, 2, 3, 4)  # every minor-unit exponent ISO 4217 uses


def _over(balance: str, exponent: str, amount: Decimal, params: Params) -> str:
    """`balance` (minor units, an integer) is more than `amount` major units: compared with the threshold in minor
    units of each exponent, rounded down, which is exact for integers (no numeric arithmetic per row)."""
    floors = {e: math.floor(amount.scaleb(e)) for e in EXPONENTS}
    cases = " ".join(f"WHEN {e} THEN {params.add(floors[e])}::bigint" for e in EXPONENTS if e != 2)
    return f"{balance} > CASE {exponent} {cases} ELSE {params.add(floors[2])}::bigint END"


def priority_sql(days: str, balance: str, exponent: str, thresholds: PriorityThresholds, params: Params) -> str:
    """`collections.priority(days, balance, thresholds)` as a SQL expression giving the level's rank
    (`PRIORITY_ORDER`): the first level with any rule met, else low."""
    whens = []
    for level, rules in thresholds.levels():
        met = []
        for rule in rules:
            parts = []
            if rule.min_days is not None:
                parts.append(f"{days} >= {params.add(rule.min_days)}::int")
            if rule.balance_over is not None:
                parts.append(_over(balance, exponent, rule.balance_over, params))
            met.append("(" + (" AND ".join(parts) or "true") + ")")
        if met:
            whens.append(f"WHEN {' OR '.join(met)} THEN {collections.PRIORITY_ORDER[level]}")
    low = collections.PRIORITY_ORDER[Priority.LOW]
    return f"CASE {' '.join(whens)} ELSE {low} END" if whens else str(low)


def next_action_sql(days: str, balance: str, exponent: str, params: Params) -> str:
    """`collections.next_action(days, balance)` as a SQL expression."""
    call = _over(balance, exponent, collections.CALL_BALANCE, params)
    return f"""CASE WHEN {days} >= {collections.ESCALATE_DAYS} THEN '{NextAction.ESCALATE_TO_COLLECTIONS.value}'
        WHEN {days} >= {collections.FINAL_NOTICE_DAYS} THEN '{NextAction.FINAL_NOTICE.value}'
        WHEN {days} >= {collections.CALL_DAYS} THEN CASE WHEN {call} THEN '{NextAction.COLLECTIONS_CALL.value}'
            ELSE '{NextAction.PAYMENT_REMINDER.value}' END
        WHEN {days} >= {collections.REMINDER_DAYS} THEN '{NextAction.PAYMENT_REMINDER.value}'
        ELSE '{NextAction.MONITOR.value}' END"""


def days_blocked_sql(suspended_at: str, now: str) -> str:
    """`collections.days_blocked`: whole days (floor) since the suspension, never negative."""
    return f"greatest(floor(date_part('epoch', {now} - {suspended_at}) / 86400), 0)::int"


def _iso(column: str) -> str:
    """A timestamptz as pydantic writes a UTC datetime: ISO 8601 with a Z, microseconds only when there are some."""
    return (
        f"CASE WHEN date_trunc('second', {column}) = {column} "
        f"""THEN to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"""ELSE to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""
    )


_BY_RANK = sorted(Priority, key=collections.PRIORITY_ORDER.__getitem__)
_LEVEL_NAMES = "(ARRAY[" + ", ".join(f"'{p.value}'" for p in _BY_RANK) + "])"  # rank + 1 -> the level's name
_EARLIEST, _LATEST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)


async def blocked_customers_json(
    driver: Any,
    schema: str,
    tenant: str,
    *,
    now: datetime,
    suspended_from: datetime | None,
    suspended_until: datetime | None,
    include_zero_balance: bool,
    thresholds: PriorityThresholds,
) -> str:
    """The report's rows (`schemas.BlockedCustomer`), sorted, as one JSON array. `driver`: an asyncpg connection
    (one statement sees one snapshot: no transaction needed)."""
    params = Params(tenant, now, suspended_from or _EARLIEST, suspended_until or _LATEST)
    days, balance, exponent = "l.days_blocked", "l.balance_minor", "coalesce(l.currency_exponent, 0)"
    priority = priority_sql(days, balance, exponent, thresholds, params)
    action = next_action_sql(days, balance, exponent, params)
    join = "LEFT JOIN" if include_zero_balance else "JOIN"
    sql = f"""
        WITH later AS (
            SELECT customer_id, currency, count(*) AS n FROM "{schema}".invoices
            WHERE tenant_id = $1 AND balance_minor > 0 AND overdue_at IS NOT NULL AND overdue_at > $2
            GROUP BY 1, 2
        ), listed AS (
            SELECT s.subscriber_id, s.username, s.customer_id, s.suspended_at, s.suspension_reason,
                   c.name AS customer_name, c.email, c.phone, b.currency, b.currency_exponent,
                   coalesce(b.open_invoices, 0) AS open_invoices,
                   coalesce(b.overdue_invoices, 0) - coalesce(later.n, 0) AS overdue_invoices,
                   coalesce(b.balance_minor, 0) AS balance_minor,
                   EXISTS (SELECT 1 FROM "{schema}".dunning_executions d
                           WHERE d.tenant_id = s.tenant_id AND d.customer_id = s.customer_id
                             AND d.status = 'active') AS in_dunning,
                   {days_blocked_sql("s.suspended_at", "$2::timestamptz")} AS days_blocked
            FROM "{schema}".subscribers s
            LEFT JOIN "{schema}".customers c ON c.tenant_id = s.tenant_id AND c.customer_id = s.customer_id
            {join} "{schema}".customer_balances b ON b.tenant_id = s.tenant_id AND b.customer_id = s.customer_id
            LEFT JOIN later ON later.customer_id = b.customer_id AND later.currency = b.currency
            WHERE s.tenant_id = $1 AND s.status = 'suspended' AND s.suspended_at IS NOT NULL
              AND s.suspended_at > $3 AND s.suspended_at <= $4
        ), ranked AS (
            SELECT l.*, {priority} AS priority_rank, {action} AS next_action FROM listed l
        )
        SELECT coalesce(json_agg(o ORDER BY r.priority_rank, r.days_blocked DESC, r.subscriber_id COLLATE "C",
                                        coalesce(r.currency, '') COLLATE "C"), '[]')::text
        FROM ranked r CROSS JOIN LATERAL (
            SELECT r.subscriber_id, r.username, r.customer_id, r.customer_name, r.email, r.phone,
                   {_iso("r.suspended_at")} AS suspended_at, r.suspension_reason, r.days_blocked, r.overdue_invoices,
                   r.open_invoices, r.currency,
                   CASE WHEN r.currency IS NULL THEN 0.0::float8
                        ELSE r.balance_minor::float8 / power(10::float8, r.currency_exponent)
                   END AS outstanding_balance,
                   r.balance_minor AS outstanding_balance_minor, r.next_action,
                   {_LEVEL_NAMES}[r.priority_rank + 1] AS priority, r.in_dunning
        ) o"""
    result: str = await driver.fetchval(sql, *params.values)
    return result
