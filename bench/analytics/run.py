"""Revenue analytics benchmark: MRR as of a day and 24 months of movements, read model vs query time.

One command (`bench/analytics/run.sh [--subscriptions N] [--invoices-per-subscription K]`):
1. Generates one tenant's history over the last 24 months: N subscriptions of N*4/5 customers (a fifth in USD,
   the rest in EUR), each started at a random moment; half change plan once (up or down), a third end (a
   cancellation, then the end), a third of those customers win back with a new subscription; K invoices per
   subscription, each paid a few days later. Events are built with the contracts' models.
2. Publishes the subscription events to fresh topics (a throwaway prefix) keyed as the relay keys, runs the
   reporting service (in-process, its own fresh database) until it has applied them, then publishes the invoice
   and payment events and waits again: the apply rate of each in events/s, from the first applied event to the
   last (start-up and publishing not counted).
3. Loads the same subscription history into a billing-like raw table (`bench_raw.subscription_history`: one
   row per subscription change, the MRR from then on) and answers the same questions at query time: MRR as of
   a day (each subscription's last change before it) and 24 monthly movements (each customer's MRR at every
   month boundary, classified with window functions). Both answers are compared (MRR per currency and month
   must be equal) before anything is timed.
4. Times each question `--runs` times through the service's HTTP app (read model) and as one SQL statement (raw):
   p50, p95 and the ratio. Prints a table and writes bench/results/analytics.json.

The issue's full size is 1,000,000 subscriptions (about 3 M subscription events, 12 M invoice/payment events:
`--subscriptions 1000000 --invoices-per-subscription 6`); on this shared 2-core machine the default is small.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from bss_contracts import DomainEvent
from bss_contracts.events import billing
from bss_runtime.auth import issue_token
from reporting.config import Settings
from reporting.entrypoints.app import Reporting, create_app

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "common"))
from publishing import publish as publish_events  # noqa: E402
from publishing import stats  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "analytics.json"
TENANT = "bench-isp"
PRICES = [1999, 2999, 4999, 7999, 12999]
GOAL_P95_MS = 50.0


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# ---------------------------------------------------------------- the history


def month_start(day: date, back: int = 0) -> date:
    n = day.year * 12 + day.month - 1 - back
    return date(n // 12, n % 12 + 1, 1)


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def build(subscriptions: int, invoices_per: int, seed: int = 13) -> tuple[list[DomainEvent], list[tuple[Any, ...]]]:
    """The events, in the order billing would write them, and the raw history rows (subscription changes)."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    first = at(month_start(now.date(), 24))
    span = (now - timedelta(days=1) - first).total_seconds()
    customers = max(1, subscriptions * 4 // 5)
    timed: list[tuple[datetime, int, DomainEvent]] = []
    raw: list[tuple[Any, ...]] = []
    n = 0

    def subscription(sid: str, customer: str, currency: str, start: datetime, mrr: int) -> None:
        nonlocal n
        common = {
            "subscription_id": sid,
            "customer_id": customer,
            "subscriber_id": f"s-{sid}",
            "username": f"u-{sid}",
            "currency": currency,
        }
        events: list[DomainEvent] = [
            billing.SubscriptionStarted(
                **common,
                plan_id=f"p{mrr}",
                mrr_before_minor=0,
                mrr_after_minor=mrr,
                effective_at=start,
                start_date=start.date(),
                plan_price_minor=mrr,
            )
        ]
        raw.append((TENANT, sid, customer, currency, start, mrr))
        current, when = mrr, start
        left = (now - when).total_seconds()
        if rng.random() < 0.5 and left > 86400:
            when = when + timedelta(seconds=rng.uniform(3600, left - 3600))
            new = rng.choice([p for p in PRICES if p != current])
            events.append(
                billing.SubscriptionPlanChanged(
                    **common,
                    plan_id=f"p{new}",
                    mrr_before_minor=current,
                    mrr_after_minor=new,
                    effective_at=when,
                    previous_plan_id=f"p{current}",
                    timing="now" if new > current else "period_end",
                    requested_at=when,
                    plan_price_minor=new,
                    previous_plan_price_minor=current,
                )
            )
            raw.append((TENANT, sid, customer, currency, when, new))
            current = new
        left = (now - when).total_seconds()
        ended = None
        if rng.random() < 0.33 and left > 86400:
            ended = when + timedelta(seconds=rng.uniform(3600, left - 3600))
            canceled = ended - timedelta(days=rng.uniform(0, 1))
            canceled = max(canceled, when + timedelta(seconds=1))
            events.append(
                billing.SubscriptionCanceled(
                    **common,
                    plan_id=f"p{current}",
                    mrr_before_minor=current,
                    mrr_after_minor=current,
                    effective_at=canceled,
                    cause="canceled",
                    ends_at=ended,
                    last_day=(ended - timedelta(days=1)).date(),
                )
            )
            events.append(
                billing.SubscriptionEnded(
                    **common,
                    plan_id=f"p{current}",
                    mrr_before_minor=current,
                    mrr_after_minor=0,
                    effective_at=ended,
                    last_day=(ended - timedelta(days=1)).date(),
                )
            )
            raw.append((TENANT, sid, customer, currency, ended, 0))
        for e in events:
            timed.append((e.effective_at, n, e))  # type: ignore[attr-defined]
            n += 1
        # invoices of the subscription's active months, each paid a few days later
        last = ended or now
        for k in range(invoices_per):
            issued = start + (last - start) * (k + 0.5) / invoices_per
            iid = f"i-{sid}-{k}"
            invoice = billing.InvoiceIssued(
                invoice_id=iid,
                invoice_number=f"INV-{iid}",
                customer_id=customer,
                currency=currency,
                issue_date=issued.date(),
                due_date=issued.date() + timedelta(days=14),
                lines=(billing.InvoiceLine(description="Internet", unit_price_minor=mrr, amount_minor=mrr),),
                subtotal_minor=mrr,
                tax_minor=0,
                total_minor=mrr,
                balance_minor=mrr,
                issued_at=issued,
            )
            paid = billing.PaymentReceived(
                payment_id=f"pay-{iid}",
                customer_id=customer,
                invoice_id=iid,
                amount_minor=mrr,
                applied_minor=mrr,
                unapplied_minor=0,
                currency=currency,
                received_at=issued + timedelta(days=rng.uniform(0, 10)),
            )
            for e in (invoice, paid):
                timed.append((issued, n, e))
                n += 1
        if ended is not None and rng.random() < 0.33 and (now - ended).total_seconds() > 7200:
            back = ended + timedelta(seconds=rng.uniform(3600, (now - ended).total_seconds() - 3600))
            subscription(f"{sid}w", customer, currency, back, rng.choice(PRICES))

    for i in range(subscriptions):
        c = i % customers
        start = first + timedelta(seconds=rng.uniform(0, span))
        subscription(f"sub{i}", f"c{c}", "USD" if c % 5 == 0 else "EUR", start, rng.choice(PRICES))
    # one customer's events in the order they happened (they share a key); others interleave
    timed.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in timed], raw


# ---------------------------------------------------------------- raw tables and their query-time answers

RAW_MRR = """
SELECT currency, sum(mrr)::bigint FROM (
    SELECT DISTINCT ON (subscription_id) currency, mrr_minor AS mrr FROM bench_raw.subscription_history
    WHERE tenant_id = $1 AND effective_at < $2 ORDER BY subscription_id, effective_at DESC) s
GROUP BY currency HAVING sum(mrr) <> 0 ORDER BY currency
"""
RAW_MOVEMENTS = """
WITH b AS (SELECT generate_series($2::timestamptz, $3::timestamptz, interval '1 month') AS at),
c AS (
    SELECT b.at, s.customer_id, s.currency, sum(s.mrr) AS mrr FROM b CROSS JOIN LATERAL (
        SELECT DISTINCT ON (subscription_id) customer_id, currency, mrr_minor AS mrr
        FROM bench_raw.subscription_history h WHERE h.tenant_id = $1 AND h.effective_at < b.at
        ORDER BY subscription_id, effective_at DESC) s
    GROUP BY 1, 2, 3),
k AS (SELECT DISTINCT customer_id, currency FROM c),
grid AS (SELECT b.at, k.customer_id, k.currency, coalesce(c.mrr, 0) AS mrr FROM b CROSS JOIN k
         LEFT JOIN c USING (at, customer_id, currency)),
m AS (SELECT at, currency, lag(mrr, 1, 0::numeric) OVER w AS before, mrr AS after,
             coalesce(max(mrr) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING), 0) AS earlier
      FROM grid WINDOW w AS (PARTITION BY customer_id, currency ORDER BY at))
SELECT at, currency, sum(before)::bigint AS starting, sum(after)::bigint AS ending,
       sum(after - before) FILTER (WHERE before = 0 AND after > 0 AND earlier = 0)::bigint AS new,
       sum(after - before) FILTER (WHERE before = 0 AND after > 0 AND earlier > 0)::bigint AS reactivation,
       sum(after - before) FILTER (WHERE before > 0 AND after > before)::bigint AS expansion,
       sum(after - before) FILTER (WHERE after > 0 AND after < before)::bigint AS contraction,
       sum(after - before) FILTER (WHERE before > 0 AND after = 0)::bigint AS churn
FROM m WHERE at > $2 GROUP BY at, currency ORDER BY at, currency
"""


async def load_raw(conn: asyncpg.Connection, raw: list[tuple[Any, ...]]) -> None:
    await conn.execute("""
        DROP SCHEMA IF EXISTS bench_raw CASCADE; CREATE SCHEMA bench_raw;
        CREATE TABLE bench_raw.subscription_history (tenant_id text NOT NULL, subscription_id text NOT NULL,
            customer_id text NOT NULL, currency char(3) NOT NULL, effective_at timestamptz NOT NULL,
            mrr_minor bigint NOT NULL)""")
    await conn.copy_records_to_table("subscription_history", schema_name="bench_raw", records=raw)
    await conn.execute("""CREATE INDEX ON bench_raw.subscription_history (tenant_id, subscription_id, effective_at)
                          INCLUDE (customer_id, currency, mrr_minor); ANALYZE bench_raw.subscription_history""")


# ---------------------------------------------------------------- timing


async def timed(fn: Callable[[int], Awaitable[Any]], runs: int) -> dict[str, float]:
    for n in range(2):
        await fn(n)
    samples = []
    for n in range(runs):
        started = time.perf_counter()
        await fn(n)
        samples.append((time.perf_counter() - started) * 1000)
    return stats(samples)


async def applied_rate(pg: asyncpg.Connection, before: int, total: int, timeout: float) -> dict[str, Any]:
    """Sample the processed-events count every 0.1 s until `total` events are applied; the rate from the first
    sample above `before` (start-up and publishing not counted) to the last."""
    deadline = time.monotonic() + timeout
    first: tuple[float, int] | None = None
    while True:
        count = await pg.fetchval("SELECT count(*) FROM readmodel.processed_events")
        now = time.perf_counter()
        if first is None and count > before:
            first = (now, count)
        if count >= total:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"applied {count} of {total} events in {timeout} s")
        await asyncio.sleep(0.1)
    assert first is not None
    seconds = max(now - first[0], 1e-3)
    applied = total - before
    return {"events": applied, "seconds": round(seconds, 2), "events_per_s": round((total - first[1]) / seconds)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=5000)
    parser.add_argument("--invoices-per-subscription", type=int, default=1)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    suffix = secrets.token_hex(4)
    database, prefix = f"bench_analytics_{suffix}", f"bench-analytics-{suffix}."
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    parts = urlsplit(admin)
    plain = urlunsplit(parts._replace(path=f"/{database}"))
    url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))

    log(f"building the history of {args.subscriptions} subscriptions")
    events, raw = build(args.subscriptions, args.invoices_per_subscription)
    kinds = {"subscription": sum(1 for e in events if e.topic.name == "bss.billing.subscription")}
    kinds["invoice/payment"] = len(events) - kinds["subscription"]
    subscription_events = [e for e in events if e.topic.name == "bss.billing.subscription"]
    money_events = [e for e in events if e.topic.name != "bss.billing.subscription"]
    log(f"{len(events)} events ({kinds}); publishing the subscription events to {prefix}*")
    publish_s = await publish_events(bootstrap, prefix, subscription_events, TENANT)

    settings = Settings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_prefix=prefix,
        log_level="WARNING",
        bi_worker_enabled=False,
    )
    app = create_app(settings)
    service: Reporting = app.state.service
    pg = await asyncpg.connect(plain)
    results: dict[str, Any] = {"subscriptions": args.subscriptions, "events": kinds, "publish_s": round(publish_s, 2)}
    try:
        async with service.runtime.running():
            log("reporting applies the subscription events")
            results["apply"] = {"subscription": await applied_rate(pg, 0, len(subscription_events), args.timeout)}
            log(f"applied: {results['apply']}; publishing the invoice and payment events")
            await publish_events(bootstrap, prefix, money_events, TENANT)
            results["apply"]["invoice/payment"] = await applied_rate(
                pg, len(subscription_events), len(events), args.timeout
            )
            log(f"applied: {results['apply']}")
            await pg.execute("ANALYZE")
            await load_raw(pg, raw)
            await pg.execute("SET jit = off")
            token = issue_token(service.runtime.jwt, subject="bench", tenant_id=TENANT, roles=["finance"])
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://reporting",
                headers={"Authorization": f"Bearer {token}"},
            )
            today = datetime.now(UTC).date()
            first = month_start(today, 24)
            days = [first + timedelta(days=random.Random(n).randrange((today - first).days)) for n in range(200)]

            async def model_mrr(n: int) -> Any:
                r = await client.get("/analytics/revenue/mrr", params={"as_of": days[n % 200].isoformat()})
                assert r.status_code == 200, r.text
                return r.json()

            async def raw_mrr(n: int) -> Any:
                return await pg.fetch(RAW_MRR, TENANT, at(days[n % 200] + timedelta(days=1)))

            last = month_start(today, 1) + timedelta(days=31)
            last = last.replace(day=1) - timedelta(days=1)  # the last day of the previous month

            async def model_movements(_: int) -> Any:
                r = await client.get(
                    "/analytics/revenue/movements",
                    params={"from": first.isoformat(), "to": last.isoformat(), "interval": "month"},
                )
                assert r.status_code == 200, r.text
                return r.json()

            async def raw_movements(_: int) -> Any:
                return await pg.fetch(RAW_MOVEMENTS, TENANT, at(first), at(month_start(today)))

            # the same answers first
            for n in range(5):
                mine = {c["currency"]: c["mrr_minor"] for c in (await model_mrr(n))["currencies"]}
                theirs = {c: int(v) for c, v in await raw_mrr(n)}
                assert mine == theirs, (days[n], mine, theirs)
            periods = (await model_movements(0))["periods"]
            mine_m = {(p["end"], c["currency"]): c["ending_mrr_minor"] for p in periods for c in p["currencies"]}
            theirs_m = {
                (r["at"].date().isoformat(), r["currency"]): r["ending"]
                for r in await raw_movements(0)
                if r["ending"] or r["starting"]
            }
            assert mine_m == theirs_m, "ending MRR per month differs"
            assert len(periods) == 24
            log("read model and query-time answers agree; timing")
            results["queries"] = {
                "mrr_as_of": {
                    "read_model": await timed(model_mrr, args.runs),
                    "query_time": await timed(raw_mrr, max(5, args.runs // 4)),
                },
                "movements_24_months": {
                    "read_model": await timed(model_movements, args.runs),
                    "query_time": await timed(raw_movements, max(3, args.runs // 10)),
                },
            }
            for q in results["queries"].values():
                q["ratio_p95"] = round(q["query_time"]["p95_ms"] / q["read_model"]["p95_ms"], 1)
            await client.aclose()
    finally:
        await pg.close()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
    results["load_average"] = os.getloadavg()
    results["goal_p95_ms"] = GOAL_P95_MS
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {RESULTS.relative_to(ROOT)}")


def print_table(r: dict[str, Any]) -> None:
    print(
        f"\nRevenue analytics: {r['subscriptions']} subscriptions, events {r['events']}, "
        f"load average {r.get('load_average')}"
    )
    for kind, a in r["apply"].items():
        print(f"apply {kind} events: {a['events']} in {a['seconds']} s = {a['events_per_s']} events/s")
    print(f"{'question':<22} {'read model p50/p95 ms':>24} {'query time p50/p95 ms':>24} {'ratio p95':>10}")
    for name, q in r["queries"].items():
        m, t = q["read_model"], q["query_time"]
        print(
            f"{name:<22} {m['p50_ms']:>11} / {m['p95_ms']:<10} {t['p50_ms']:>11} / {t['p95_ms']:<10} "
            f"{q['ratio_p95']:>10}"
        )


if __name__ == "__main__":
    asyncio.run(main())
