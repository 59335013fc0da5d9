"""The values the rule kinds compare, read from the read model (every query filtered by tenant) and, for the
operator's kinds, from the Kafka broker (read-only admin calls on the topic registry, as bssctl makes them)."""

# ruff: noqa: S608 - SQL is composed only with our own schema names; values are bound parameters

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bss_contracts.topics import ALL_TOPICS, Service
from reporting.alerts.adapters.tables import SCHEMA as ALERTS
from reporting.alerts.domain.measures import TENANT, Measurement, same_day_previous_month, usage_windows
from reporting.alerts.domain.rules import RuleKind, percent_drop, percent_growth
from reporting.analytics.adapters import repository as revenue
from reporting.analytics.adapters.concurrency import hours_kept, levels_before
from reporting.analytics.domain.concurrency import HOUR, bucket_start, hourly_peaks

KAFKA_TIMEOUT_MS = 10_000


async def mrr_drop(conn: AsyncConnection, schema: str, tenant: str, now: datetime) -> list[Measurement]:
    today = now.date()
    before_day = same_day_previous_month(today)
    current = {c: int(m) for c, m, _, _ in await revenue.mrr_as_of(conn, schema, tenant, today, None)}
    before = {c: int(m) for c, m, _, _ in await revenue.mrr_as_of(conn, schema, tenant, before_day, None)}
    out = []
    for currency, then in sorted(before.items()):
        drop = percent_drop(then, current.get(currency, 0))
        if drop is not None:
            out.append(
                Measurement(
                    currency,
                    drop,
                    f"MRR {currency} {current.get(currency, 0)} (minor units) on "
                    f"{today}, {then} on {before_day}: {drop:.1f} % lower",
                )
            )
    return out


async def logo_churn(conn: AsyncConnection, schema: str, tenant: str, now: datetime) -> list[Measurement]:
    first = now.date().replace(day=1)
    base = await revenue.rollup_base(conn, schema, tenant, first, None)
    churned = {
        c: n
        for c, _, kind, _, n in await revenue.rollup_movements(
            conn, schema, tenant, "month", first, first + timedelta(days=1), None
        )
        if kind == "churn"
    }
    out = []
    for currency, (_, paying) in sorted(base.items()):
        if paying > 0:
            rate = churned.get(currency, 0) * 100.0 / paying
            out.append(
                Measurement(
                    currency,
                    rate,
                    f"{churned.get(currency, 0)} of {paying} paying customers "
                    f"({currency}) churned since {first}: {rate:.1f} %",
                )
            )
    return out


async def usage_drop(
    conn: AsyncConnection, schema: str, tenant: str, now: datetime, parameters: dict[str, Any]
) -> list[Measurement]:
    hours = int(parameters["window_hours"])
    (start, end), (week_start, week_end) = usage_windows(now, hours)
    if parameters["scope"] == "tenant":
        sql = f"""SELECT '{TENANT}', coalesce(sum(input_octets + output_octets), 0)::bigint
                  FROM "{schema}".session_hours WHERE tenant_id = :t AND hour >= :start AND hour < :end"""
    else:
        sql = f"""SELECT nas_id, sum(input_octets + output_octets)::bigint FROM "{schema}".sessions
                  WHERE tenant_id = :t AND time >= :start AND time < :end GROUP BY nas_id"""
    now_bytes = {s: int(v) for s, v in await conn.execute(text(sql), {"t": tenant, "start": start, "end": end})}
    before = {s: int(v) for s, v in await conn.execute(text(sql), {"t": tenant, "start": week_start, "end": week_end})}
    out = []
    for subject, then in sorted(before.items()):
        drop = percent_drop(then, now_bytes.get(subject, 0))
        if drop is not None:
            where = "the tenant" if subject == TENANT else f"NAS {subject}"
            out.append(
                Measurement(
                    subject,
                    drop,
                    f"{where}: {now_bytes.get(subject, 0)} bytes in the {hours} h to "
                    f"{end:%Y-%m-%d %H:%M} UTC, {then} a week before: {drop:.1f} % lower",
                )
            )
    return out


async def nas_concurrency(
    conn: AsyncConnection, schema: str, tenant: str, now: datetime, parameters: dict[str, Any]
) -> list[Measurement]:
    """Per NAS with a capacity: the exact peak of concurrent sessions over the last `window_hours` hours (the
    current hour included), from the concurrency read model, as a percent of the capacity."""
    capacities = {
        nas: int(cap)
        for nas, cap in await conn.execute(
            text(f'SELECT nas_id, max_sessions FROM "{ALERTS}".nas_capacities WHERE tenant_id = :t'), {"t": tenant}
        )
    }
    hours = int(parameters["window_hours"])
    first = bucket_start(now, "hour") - (hours - 1) * HOUR
    out = []
    for nas, capacity in sorted(capacities.items()):
        start = (await levels_before(conn, schema, tenant, first, nas)).get(nas, 0)
        kept = await hours_kept(conn, schema, tenant, nas, first, first + hours * HOUR)
        best = max(hourly_peaks(start, first, hours, kept), key=lambda p: p.peak)
        used = max(best.peak, 0) * 100.0 / capacity
        out.append(
            Measurement(
                nas,
                used,
                f"NAS {nas}: peak of {best.peak} sessions at {best.at:%Y-%m-%d %H:%M} UTC "
                f"(last {hours} h) of a capacity of {capacity} ({used:.1f} %)",
            )
        )
    return out


async def _ar_over_90(conn: AsyncConnection, schema: str, tenant: str, day: date) -> dict[str, int]:
    rows = await conn.execute(
        text(f"""SELECT currency, sum(balance_minor)::bigint FROM "{schema}".aging_changes
                 WHERE tenant_id = :t AND effective_date <= :day AND due_date < :cut GROUP BY currency"""),
        {"t": tenant, "day": day, "cut": day - timedelta(days=90)},
    )
    return {c: int(v) for c, v in rows}


async def ar_90_growth(
    conn: AsyncConnection, schema: str, tenant: str, now: datetime, parameters: dict[str, Any]
) -> list[Measurement]:
    today = now.date()
    then_day = today - timedelta(days=int(parameters["lookback_days"]))
    current, before = await _ar_over_90(conn, schema, tenant, today), await _ar_over_90(conn, schema, tenant, then_day)
    out = []
    for currency, then in sorted(before.items()):
        growth = percent_growth(then, current.get(currency, 0))
        if growth is not None:
            out.append(
                Measurement(
                    currency,
                    growth,
                    f"receivables over 90 days ({currency}) "
                    f"{current.get(currency, 0)} on {today}, {then} on {then_day}: "
                    f"{growth:+.1f} %",
                )
            )
    return out


async def sla_breaches(
    conn: AsyncConnection, schema: str, tenant: str, now: datetime, parameters: dict[str, Any]
) -> list[Measurement]:
    hours = int(parameters["period_hours"])
    count = await conn.scalar(
        text(f"""SELECT count(*) FROM "{schema}".sla_breaches
                 WHERE tenant_id = :t AND detected_at > :since AND detected_at <= :now"""),
        {"t": tenant, "since": now - timedelta(hours=hours), "now": now},
    )
    n = int(count or 0)
    return [Measurement(TENANT, float(n), f"{n} SLA breaches detected in the last {hours} h")]


class KafkaProbe:
    """Read-only looks at the broker: records held by dead-letter topics, and consumer groups' lag, over the
    topic registry with this deployment's topic prefix (consumer groups are the services' names)."""

    def __init__(self, bootstrap: str, prefix: str, groups: Sequence[str] | None = None) -> None:
        self._bootstrap = bootstrap
        self._prefix = prefix
        # The consumer groups watched: every service that consumes a registry topic (their group is their name).
        self.groups = (
            list(groups)
            if groups is not None
            else [s.value for s in Service if any(s in t.consumers for t in ALL_TOPICS)]
        )

    async def _partitions(self, admin: AIOKafkaAdminClient, names: list[str]) -> list[TopicPartition]:
        """The partitions of those of `names` that exist on the broker."""
        if not names:
            return []
        described = await admin.describe_topics(names)
        return sorted(
            TopicPartition(d["topic"], p["partition"])
            for d in described
            if d["error_code"] == 0
            for p in d["partitions"]
        )

    async def dead_letters(self) -> list[Measurement]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=KAFKA_TIMEOUT_MS)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, request_timeout_ms=KAFKA_TIMEOUT_MS)
        await admin.start()
        await consumer.start()
        try:
            existing = set(await admin.list_topics())
            names = [n for t in ALL_TOPICS if (n := f"{self._prefix}{t.dead_letter}") in existing]
            tps = await self._partitions(admin, names)
            begins = dict(await consumer.beginning_offsets(tps)) if tps else {}
            ends = dict(await consumer.end_offsets(tps)) if tps else {}
        finally:
            await consumer.stop()
            await admin.close()
        held = {n.removeprefix(self._prefix): 0 for n in names}
        for tp, end in ends.items():
            held[tp.topic.removeprefix(self._prefix)] += end - begins.get(tp, 0)
        return [
            Measurement(name, float(n), f"dead-letter topic {name} holds {n} records")
            for name, n in sorted(held.items())
        ]

    async def consumer_lag(self) -> list[Measurement]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=KAFKA_TIMEOUT_MS)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, request_timeout_ms=KAFKA_TIMEOUT_MS)
        await admin.start()
        await consumer.start()
        try:
            ours = {f"{self._prefix}{t.name}" for t in ALL_TOPICS}
            out = []
            for group in self.groups:
                committed = {
                    tp: meta.offset
                    for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                    if tp.topic in ours and meta.offset >= 0
                }
                if not committed:
                    continue
                ends = await consumer.end_offsets(list(committed))
                lag = sum(max(ends[tp] - offset, 0) for tp, offset in committed.items())
                out.append(Measurement(group, float(lag), f"consumer group {group} is {lag} events behind"))
            return out
        finally:
            await consumer.stop()
            await admin.close()


async def measure(
    conn: AsyncConnection,
    schema: str,
    tenant: str,
    kind: RuleKind,
    parameters: dict[str, Any],
    now: datetime,
    kafka: KafkaProbe,
) -> list[Measurement]:
    """Every subject the rule measures now, with its value."""
    match kind:
        case RuleKind.MRR_DROP:
            return await mrr_drop(conn, schema, tenant, now)
        case RuleKind.LOGO_CHURN:
            return await logo_churn(conn, schema, tenant, now)
        case RuleKind.USAGE_DROP:
            return await usage_drop(conn, schema, tenant, now, parameters)
        case RuleKind.NAS_CONCURRENCY:
            return await nas_concurrency(conn, schema, tenant, now, parameters)
        case RuleKind.AR_90_GROWTH:
            return await ar_90_growth(conn, schema, tenant, now, parameters)
        case RuleKind.SLA_BREACHES:
            return await sla_breaches(conn, schema, tenant, now, parameters)
        case RuleKind.DEAD_LETTERS:
            return await kafka.dead_letters()
        case RuleKind.CONSUMER_LAG:
            return await kafka.consumer_lag()
