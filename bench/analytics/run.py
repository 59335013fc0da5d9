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
import contextlib
import json
import multiprocessing
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from bss_contracts import DomainEvent
from bss_contracts.events import billing
from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.kafka import ensure_topics
from reporting.config import Settings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "common"))
from producer import FastProducer  # noqa: E402
from publishing import stats  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "analytics.json"
TENANT = "bench-isp"
PRICES = [1999, 2999, 4999, 7999, 12999]
GOAL_P95_MS = 50.0
SUBSCRIPTION_TOPIC = "bss.billing.subscription"


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# ---------------------------------------------------------------- the history


def month_start(day: date, back: int = 0) -> date:
    n = day.year * 12 + day.month - 1 - back
    return date(n // 12, n % 12 + 1, 1)


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


CHUNK = 10_000  # subscriptions generated at a time; a multiple of 5, so no customer spans two chunks


def history_chunk(
    index: int, subscriptions: int, invoices_per: int, now: datetime, seed: int = 13
) -> tuple[list[DomainEvent], list[DomainEvent], list[tuple[Any, ...]]]:
    """Chunk `index` of the history: its subscription events and its invoice/payment events, each in the order
    billing would write them, and its raw history rows (subscription changes). Subscriptions 5k..5k+4 belong to
    customers 4k..4k+3, so a customer's events are all in one chunk and the chunks can be generated and published
    one at a time, by several processes, in any order (events of different customers do not share a key). The
    same arguments give the same chunk."""
    rng = random.Random(seed * 1_000_003 + index)
    first = at(month_start(now.date(), 24))
    span = (now - timedelta(days=1) - first).total_seconds()
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

    for i in range(index * CHUNK, min(subscriptions, (index + 1) * CHUNK)):
        c = i * 4 // 5
        start = first + timedelta(seconds=rng.uniform(0, span))
        subscription(f"sub{i}", f"c{c}", "USD" if c % 5 == 0 else "EUR", start, rng.choice(PRICES))
    # one customer's events in the order they happened (they share a key)
    timed.sort(key=lambda x: (x[0], x[1]))
    ordered = [e for _, _, e in timed]
    subscription_events = [e for e in ordered if e.topic.name == SUBSCRIPTION_TOPIC]
    money_events = [e for e in ordered if e.topic.name != SUBSCRIPTION_TOPIC]
    return subscription_events, money_events, raw


def publish_share(
    worker: int, workers: int, subscriptions: int, invoices_per: int, now: datetime, target: tuple[str, str, str]
) -> dict[str, int]:
    """Generate and publish every `workers`-th chunk (from `worker`), copying its raw rows into the raw table; run
    in a process of its own. Returns the counts sent."""
    bootstrap, prefix, plain = target

    async def run() -> dict[str, int]:
        producer = FastProducer(bootstrap, prefix, TENANT)
        conn = await asyncpg.connect(plain)
        counts = {"subscription": 0, "invoice/payment": 0, "raw_rows": 0}
        try:
            for index in range(worker, -(-subscriptions // CHUNK), workers):
                subs, money, raw = history_chunk(index, subscriptions, invoices_per, now)
                producer.send(subs)
                producer.send(money)
                await conn.copy_records_to_table("subscription_history", schema_name="bench_raw", records=raw)
                counts["subscription"] += len(subs)
                counts["invoice/payment"] += len(money)
                counts["raw_rows"] += len(raw)
                if index // workers % 10 == 9:
                    log(f"publisher {worker}: {producer.sent} events sent")
            producer.close()
        finally:
            await conn.close()
        return counts

    return asyncio.run(run())


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


RAW_TABLE = """
    DROP SCHEMA IF EXISTS bench_raw CASCADE; CREATE SCHEMA bench_raw;
    CREATE TABLE bench_raw.subscription_history (tenant_id text NOT NULL, subscription_id text NOT NULL,
        customer_id text NOT NULL, currency char(3) NOT NULL, effective_at timestamptz NOT NULL,
        mrr_minor bigint NOT NULL)"""
RAW_INDEX = """CREATE INDEX ON bench_raw.subscription_history (tenant_id, subscription_id, effective_at)
               INCLUDE (customer_id, currency, mrr_minor); ANALYZE bench_raw.subscription_history"""


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


def consumed(metrics: str) -> dict[str, int]:
    """Events the reporting consumer has handled so far, by outcome (from its Prometheus counters)."""
    out: dict[str, int] = {}
    for line in metrics.splitlines():
        if line.startswith("bss_events_consumed_total{"):
            labels, value = line[len("bss_events_consumed_total{") :].rsplit("} ", 1)
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] = out.get(outcome, 0) + int(float(value))
    return out


async def drain(client: httpx.AsyncClient, total: int, timeout: float) -> dict[str, Any]:
    """Sample the service's counters every second until `total` events are applied; the rate from the first
    sample with events applied (start-up not counted) to the last."""
    deadline = time.monotonic() + timeout
    first: tuple[float, int] | None = None
    samples: list[tuple[float, int]] = []
    while True:
        counts = consumed((await client.get("/metrics")).text)
        done = counts.get("processed", 0)
        now = time.perf_counter()
        samples.append((now, done))
        if first is None and done > 0:
            first = (now, done)
            log(f"applying: {done} events")
        elif len(samples) % 60 == 0:
            log(f"applying: {done} of {total} events ({counts})")
        if done >= total:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"applied {done} of {total} events in {timeout} s")
        await asyncio.sleep(1.0)
    assert first is not None
    seconds = max(now - first[0], 1e-3)
    return {
        "events": total,
        "seconds": round(seconds, 1),
        "events_per_s": round((total - first[1]) / seconds),
        "outcomes": counts,  # "duplicate" > 0: batches redelivered (a rebalance), applied once
    }


def start_service(database_url: str, bootstrap: str, prefix: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """The reporting service as `deploy/local/services.sh` runs it: its own process, its own socket."""
    env = os.environ | {
        "SERVICE_NAME": "reporting",
        "HTTP_PORT": str(port),
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "KAFKA_GROUP_PREFIX": prefix,
        "BI_WORKER_ENABLED": "false",
        "ALERT_WORKER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    with log_path.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "reporting"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


async def wait_ready(client: httpx.AsyncClient, service: subprocess.Popen[bytes], log_path: Path) -> None:
    for _ in range(240):
        if service.poll() is not None:
            raise RuntimeError(f"reporting exited; see {log_path}")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"reporting not ready in 120 s; see {log_path}")


async def drop_topics(bootstrap: str, prefix: str) -> None:
    """The benchmark's topics go with it (millions of events would otherwise stay on the broker's disk)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rebalances(log_path: Path) -> int:
    """Consumer-group trouble the service logged: commit failures and rejoins."""
    text = log_path.read_text(errors="replace")
    return sum(text.count(marker) for marker in ("CommitFailedError", "UnknownMemberId", "IllegalGeneration"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=5000)
    parser.add_argument("--invoices-per-subscription", type=int, default=1)
    parser.add_argument("--publishers", type=int, default=2, help="processes generating and publishing the events")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=7200)
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
    log_path = RESULTS.parent / "analytics-reporting.log"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    service: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = {"subscriptions": args.subscriptions, "load_average_before": os.getloadavg()}
    pg = await asyncpg.connect(plain)
    try:
        await pg.execute(RAW_TABLE)
        await ensure_topics(bootstrap, prefix)
        now = datetime.now(UTC).replace(microsecond=0)
        log(f"generating and publishing {args.subscriptions} subscriptions' history to {prefix}* ")
        started = time.perf_counter()
        with ProcessPoolExecutor(args.publishers, mp_context=multiprocessing.get_context("spawn")) as pool:
            shares = [
                pool.submit(
                    publish_share,
                    k,
                    args.publishers,
                    args.subscriptions,
                    args.invoices_per_subscription,
                    now,
                    (bootstrap, prefix, plain),
                )
                for k in range(args.publishers)
            ]
            counts = [f.result() for f in shares]
        results["publish_s"] = round(time.perf_counter() - started, 1)
        kinds = {k: sum(c[k] for c in counts) for k in ("subscription", "invoice/payment")}
        results["events"] = kinds
        total = sum(kinds.values())
        log(f"published {kinds} in {results['publish_s']} s; indexing the raw table")
        await pg.execute(RAW_INDEX)

        port = free_port()
        service = start_service(url, bootstrap, prefix, port, log_path)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as probe:
            await wait_ready(probe, service, log_path)
            log(f"reporting (pid {service.pid}, port {port}) applies the {total} events")
            results["apply"] = await drain(probe, total, args.timeout)
        results["consumer_group_errors"] = rebalances(log_path)
        log(f"applied: {results['apply']}; consumer group errors logged: {results['consumer_group_errors']}")
        await pg.execute("ANALYZE")
        await pg.execute("SET jit = off")
        token = issue_token(JwtConfig.from_settings(Settings()), subject="bench", tenant_id=TENANT, roles=["finance"])
        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        today = now.date()
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
        if service is not None:
            service.terminate()
            service.wait(30)
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
        await drop_topics(bootstrap, prefix)
    results["load_average"] = os.getloadavg()
    results["goal_p95_ms"] = GOAL_P95_MS
    print_table(results)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {RESULTS.relative_to(ROOT)}")


def print_table(r: dict[str, Any]) -> None:
    print(
        f"\nRevenue analytics: {r['subscriptions']} subscriptions, events {r['events']}, "
        f"load average {r.get('load_average')}"
    )
    a = r["apply"]
    print(
        f"published in {r['publish_s']} s; applied {a['events']} events in {a['seconds']} s = "
        f"{a['events_per_s']} events/s (outcomes {a['outcomes']}); consumer group errors logged: "
        f"{r['consumer_group_errors']}"
    )
    print(f"{'question':<22} {'read model p50/p95 ms':>24} {'query time p50/p95 ms':>24} {'ratio p95':>10}")
    for name, q in r["queries"].items():
        m, t = q["read_model"], q["query_time"]
        print(
            f"{name:<22} {m['p50_ms']:>11} / {m['p95_ms']:<10} {t['p50_ms']:>11} / {t['p95_ms']:<10} "
            f"{q['ratio_p95']:>10}"
        )


if __name__ == "__main__":
    asyncio.run(main())
