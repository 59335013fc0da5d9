"""Bill run benchmark: N subscriptions closed and invoiced, against plain multi-row INSERTs of the same rows.

One command (`bench/billing/run.sh [--subscriptions N] [--runners R] [--batch B] [--baseline-seconds S]`):
1. Starts the billing service in-process on a fresh database and fresh topics, its clock at 2025-01-01.
2. Creates the data through billing's real paths: 20 plans over HTTP (16 EUR, 4 USD; taxed 0-20 %; allowances
   10-200 GB); N customers and subscribers on Kafka as the customers service publishes them (created with a
   plan code, then activated: billing starts each subscription itself), in three time zones; one RADIUS session
   per subscriber in January on Kafka as radius-ingest publishes it (about a third beyond their allowance);
   customer credit for 5 % of the customers by over-payments over HTTP. It waits until billing has applied
   every event, then stops the service (no relay or consumer runs during the timed part).
3. With the clock at 2025-02-01 12:00 UTC every January cycle is due. First the per-subscription path
   (`usage.close_due_one_by_one`, as billing closed cycles before the bill run) runs for S seconds: its rate.
   Then R runner processes (`runner.py`) start at the same moment and run the bill run
   (`bill_run.close_due`, B subscriptions per transaction) until nothing is due: invoices/s from the common
   start to the last runner's end, and CPU seconds of the runners and of PostgreSQL's backends.
4. Checks: one invoice per subscription, numbers INV-2025-000001.. gapless and none twice, one fee line each,
   an overage line for every cycle billed beyond its allowance, InvoiceIssued and UsageAggregated once per
   invoice and InvoicePaid per paid invoice in the outbox, credit used once per credited invoice.
5. The limit: the invoices, lines and outbox rows just written are inserted again into empty copies of their
   tables (same indexes) with plain multi-row INSERTs, B invoices with their rows per transaction, one
   connection: the physical limit of this database on this machine. The ratio is bill run / limit.
Prints a table and writes bench/results/billing.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from billing.config import Settings
from billing.entrypoints.app import Billing, create_app
from billing.service_layer import usage
from bss_contracts import DomainEvent
from bss_contracts.events.customers import CustomerCreated, CustomerState, SubscriberActivated, SubscriberCreated
from bss_contracts.events.radius import SessionStarted, SessionStopped
from bss_runtime.auth import issue_token
from bss_runtime.clock import ManualClock

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "common"))
sys.path.insert(0, str(ROOT / "bench" / "radius"))
import cpu  # noqa: E402
from publishing import publish as publish_events  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "billing.json"
TENANT = "bench-isp"
GB = 10**9
CREATED = datetime(2024, 12, 1, 9, 0, tzinfo=UTC)
ACTIVATED = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
CLOSE_AT = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/New_York"]
GOAL_RATE, GOAL_RATIO = 1000, 0.3


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def plans() -> list[dict[str, Any]]:
    rng = random.Random(7)
    out = []
    for i in range(20):
        currency = "USD" if i % 5 == 4 else "EUR"
        out.append({
            "code": f"PLAN-{i:02d}", "name": f"Fibre {50 * (i + 1)}", "currency": currency,
            "price_minor": 1_999 + 500 * i, "included_octets": (10 + 10 * (i % 20)) * GB,
            "overage_price_per_gb_minor": rng.choice([100, 150, 200, 300]),
            "tax_rate_bp": [2000, 1900, 700, 0][i % 4],
        })  # fmt: skip
    return out


def customer_events(n: int, catalogue: list[dict[str, Any]]) -> tuple[list[DomainEvent], list[tuple[str, int]]]:
    """Customers and subscribers as the customers service publishes them; (username, allowance) per subscriber."""
    events: list[DomainEvent] = []
    users = []
    for i in range(n):
        plan = catalogue[i % len(catalogue)]
        customer, subscriber, username = f"c{i:07d}", f"s{i:07d}", f"u{i:07d}@isp"
        state = CustomerState(
            customer_id=customer, name=f"Customer {i}", partner_id=None, billing_country="DE",
            timezone=ZONES[i % len(ZONES)], created_at=CREATED, updated_at=CREATED,
        )  # fmt: skip
        events += [
            CustomerCreated(customer_id=customer, customer=state),
            SubscriberCreated(
                subscriber_id=subscriber,
                customer_id=customer,
                username=username,
                plan_id=plan["code"],
                created_at=CREATED,
            ),
            SubscriberActivated(
                subscriber_id=subscriber,
                customer_id=customer,
                username=username,
                previous_status="pending",
                status="active",
                changed_at=ACTIVATED,
            ),
        ]
        users.append((username, int(plan["included_octets"])))
    return events, users


def session_events(users: list[tuple[str, int]]) -> list[DomainEvent]:
    """One session per subscriber inside January: Start, then Stop with 10-140 % of the allowance."""
    rng = random.Random(11)
    events: list[DomainEvent] = []
    for i, (username, allowance) in enumerate(users):
        start = datetime(2025, 1, 10, 8, 0, tzinfo=UTC) + timedelta(minutes=i % 7200)
        stop = start + timedelta(hours=30)
        used = int(allowance * rng.uniform(0.1, 1.4))
        common = {"session_key": f"nas-1:{i:08x}", "acct_session_id": f"{i:08x}", "username": username,
                  "nas_id": "nas-1", "nas_ip_address": "10.0.0.1", "session_start_time": start}  # fmt: skip
        events += [
            SessionStarted(**common, event_time=start, session_time_seconds=0, input_octets=0, output_octets=0),
            SessionStopped(
                **common,
                event_time=stop,
                session_time_seconds=30 * 3600,
                input_octets=used // 10,
                output_octets=used - used // 10,
            ),
        ]
    return events


async def wait_applied(pg: asyncpg.Connection, total: int, what: str, timeout: float) -> float:
    started = time.perf_counter()
    while (count := await pg.fetchval("SELECT count(*) FROM processed_events")) < total:
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"billing applied {count} of {total} events ({what}) in {timeout} s")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def create_data(service: Billing, app: Any, pg: asyncpg.Connection, args: argparse.Namespace,
                      bootstrap: str, prefix: str) -> dict[str, Any]:  # fmt: skip
    token = issue_token(service.runtime.jwt, subject="bench", tenant_id=TENANT, roles=["finance"])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing",
                               headers={"Authorization": f"Bearer {token}"}, timeout=120)  # fmt: skip
    catalogue = plans()
    for plan in catalogue:
        r = await client.post("/billing/plans", json=plan)
        assert r.status_code == 201, r.text
    customers, users = customer_events(args.subscriptions, catalogue)
    log(f"publishing {len(customers)} customer and subscriber events")
    await publish_events(bootstrap, prefix, customers, TENANT)
    applied = {"customers": round(await wait_applied(pg, len(customers), "customers", args.timeout), 1)}
    # The tables grew from nothing in seconds (the batched account path), faster than autovacuum's statistics
    # follow: without fresh ones the planner keeps its empty-table plans and the session events apply 5-6x slower.
    await pg.execute("ANALYZE")
    sessions = session_events(users)
    log(f"billing applied them in {applied['customers']} s; publishing {len(sessions)} session events")
    await publish_events(bootstrap, prefix, sessions, TENANT)
    applied["sessions"] = round(await wait_applied(pg, len(customers) + len(sessions), "sessions", args.timeout), 1)
    credited = list(range(0, args.subscriptions, 20))  # 5 %: over-payments with nothing open become credit
    log(f"sessions applied in {applied['sessions']} s; {len(credited)} over-payments over HTTP")
    rng = random.Random(5)
    gate = asyncio.Semaphore(8)

    async def pay(i: int) -> None:
        currency = catalogue[i % len(catalogue)]["currency"]
        body = {"customer_id": f"c{i:07d}", "currency": currency, "amount_minor": rng.choice([500, 2_000, 50_000])}
        async with gate:
            r = await client.post("/billing/payments", json=body)
        assert r.status_code == 201, r.text

    await asyncio.gather(*(pay(i) for i in credited))
    await client.aclose()
    subscriptions = await pg.fetchval("SELECT count(*) FROM subscriptions WHERE status = 'active'")
    assert subscriptions == args.subscriptions, f"{subscriptions} subscriptions started"
    return {"applied_s": applied, "credited_customers": len(credited)}


async def baseline(url: str, env: dict[str, str], seconds: float) -> dict[str, Any]:
    """The per-subscription path for `seconds`: how billing closed cycles before the bill run."""
    service = create_app(Settings(**{"database_url": url, **_settings(env)}), clock=ManualClock(CLOSE_AT)).state.service
    task = asyncio.create_task(usage.close_due_one_by_one(service.deps))
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    elapsed = time.perf_counter() - started
    await service.deps.database.close()
    return {"seconds": round(elapsed, 1)}


def _settings(env: dict[str, str]) -> dict[str, Any]:
    return {"kafka_bootstrap_servers": env["KAFKA_BOOTSTRAP_SERVERS"], "kafka_topic_prefix": env["KAFKA_TOPIC_PREFIX"],
            "kafka_group_prefix": env["KAFKA_GROUP_PREFIX"],
            "log_level": "WARNING", "workers_enabled": False, "usage_close_grace_hours": 0}  # fmt: skip


async def bill_run(env: dict[str, str], runners: int, database: str) -> dict[str, Any]:
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 - started once, read when done
            [sys.executable, str(ROOT / "bench" / "billing" / "runner.py"), CLOSE_AT.isoformat()],
            env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for _ in range(runners)
    ]  # fmt: skip
    for proc in procs:  # every runner imported and connected
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == "ready", line
    backends = cpu.postgres_pids(database)
    log(f"{runners} runners ready ({len(backends)} PostgreSQL backends of {database}); go")
    pg_before = {p: cpu.cpu_of(p) for p in backends}
    pg_last = dict(pg_before)
    running = True

    async def sample_backends() -> None:  # a runner's backends exit with it: keep their last reading
        while running:
            for p in cpu.postgres_pids(database):
                pg_last[p] = max(pg_last.get(p, 0.0), cpu.cpu_of(p))
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample_backends())
    start_at = time.time()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outs = []
    for proc in procs:
        out, _ = await asyncio.to_thread(proc.communicate, "")
        assert proc.returncode == 0, f"runner exited with {proc.returncode}"
        outs.append(json.loads(out.strip().splitlines()[-1]))
    running = False
    await sampler
    seconds = max(o["ended_at"] for o in outs) - start_at
    closed = sum(o["closed"] for o in outs)
    return {
        "invoices": closed,
        "seconds": round(seconds, 2),
        "invoices_per_s": round(closed / seconds),
        "per_runner": [{"closed": o["closed"], "seconds": round(o["seconds"], 2)} for o in outs],
        "cpu_s": {
            "runners (python)": round(sum(o["cpu_s"] for o in outs), 2),
            "postgresql backends": round(sum(v - pg_before.get(p, 0.0) for p, v in pg_last.items()), 2),
        },
    }


async def checks(pg: asyncpg.Connection, n: int, first_event: int) -> dict[str, Any]:
    numbers = [r[0] for r in await pg.fetch("SELECT number FROM invoices ORDER BY number")]
    assert numbers == [f"INV-2025-{i:06d}" for i in range(1, n + 1)], "numbers are not INV-2025-000001.. gapless"
    assert len(set(numbers)) == n
    per_sub = await pg.fetchval("SELECT count(DISTINCT subscription_id) FROM invoices")
    assert per_sub == n, f"{per_sub} subscriptions invoiced of {n}"
    assert await pg.fetchval("SELECT count(*) FROM subscriptions WHERE next_cycle = 1") == n
    kinds = dict(await pg.fetch("SELECT kind, count(*) FROM invoice_lines GROUP BY kind"))
    over = await pg.fetchval("SELECT count(*) FROM usage_periods WHERE billed_minor > 0")
    assert kinds.get("subscription") == n and kinds.get("usage_overage", 0) == over > 0, kinds
    events = dict(await pg.fetch("SELECT event_type, count(*) FROM outbox WHERE id > $1 GROUP BY 1", first_event))
    paid = await pg.fetchval("SELECT count(*) FROM invoices WHERE status = 'paid'")
    assert events.get("bss.billing.invoice.issued") == n and events.get("bss.billing.usage.aggregated") == n, events
    assert events.get("bss.billing.invoice.paid", 0) == paid, (events, paid)
    credited = await pg.fetchval("SELECT count(*) FROM invoices WHERE balance_minor < total_minor")
    applied = await pg.fetchval("SELECT count(*) FROM applications WHERE source = 'customer_credit'")
    assert credited == applied > 0, (credited, applied)
    assert await pg.fetchval("SELECT count(*) FROM invoices WHERE total_minor <> subtotal_minor + tax_minor") == 0
    taxed = await pg.fetchval("SELECT count(*) FROM invoices WHERE tax_minor > 0")
    return {"invoices": n, "lines": kinds, "overage_cycles": over, "credited_invoices": credited,
            "paid_invoices": paid, "taxed_invoices": taxed, "outbox_events": events}  # fmt: skip


def _insert_sql(table: str, columns: list[str], rows: int) -> str:
    width = len(columns)
    values = ",".join("(" + ",".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(rows))
    return f"INSERT INTO bench_limit.{table} ({','.join(columns)}) VALUES {values}"


async def limit(pg: asyncpg.Connection, batch: int, first_event: int) -> dict[str, Any]:
    """The same invoices, lines and outbox rows inserted again with multi-row INSERTs, `batch` invoices with
    their lines and events per transaction, into empty copies of the tables (same indexes)."""
    await pg.execute("""DROP SCHEMA IF EXISTS bench_limit CASCADE; CREATE SCHEMA bench_limit;
        CREATE TABLE bench_limit.invoices (LIKE public.invoices INCLUDING ALL);
        CREATE TABLE bench_limit.invoice_lines (LIKE public.invoice_lines INCLUDING ALL);
        CREATE TABLE bench_limit.outbox (LIKE public.outbox INCLUDING ALL)""")
    tables = {
        "invoices": await pg.fetch("SELECT * FROM invoices ORDER BY number"),
        "invoice_lines": await pg.fetch("SELECT * FROM invoice_lines ORDER BY id"),
        "outbox": await pg.fetch("SELECT * FROM outbox WHERE id > $1 ORDER BY id", first_event),
    }
    n = len(tables["invoices"])
    chunks = max(1, -(-n // batch))
    started = time.perf_counter()
    for k in range(chunks):
        async with pg.transaction():
            for table, rows in tables.items():
                part = rows[len(rows) * k // chunks : len(rows) * (k + 1) // chunks]
                if not part:
                    continue
                columns = list(part[0].keys())
                per = max(1, 30_000 // len(columns))
                for i in range(0, len(part), per):
                    page = part[i : i + per]
                    await pg.execute(_insert_sql(table, columns, len(page)), *[v for row in page for v in row.values()])
    seconds = time.perf_counter() - started
    await pg.execute("DROP SCHEMA bench_limit CASCADE")
    rows = {t: len(r) for t, r in tables.items()}
    return {"rows": rows, "seconds": round(seconds, 2), "invoices_per_s": round(n / seconds)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=5000)
    parser.add_argument("--runners", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500, help="subscriptions per bill-run transaction")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    load_before = os.getloadavg()
    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    suffix = secrets.token_hex(4)
    database, prefix = f"bench_billing_{suffix}", f"bench-billing-{suffix}."
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    parts = urlsplit(admin)
    plain = urlunsplit(parts._replace(path=f"/{database}"))
    url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))
    env = os.environ | {
        "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_PREFIX": prefix,
        "KAFKA_GROUP_PREFIX": prefix,
        "LOG_LEVEL": "WARNING", "WORKERS_ENABLED": "false", "USAGE_CLOSE_GRACE_HOURS": "0", "ENVIRONMENT": "local",
        "BILL_RUN_BATCH_SIZE": str(args.batch), "PYTHONPATH": str(ROOT / "bench" / "billing"),
    }  # fmt: skip
    results: dict[str, Any] = {"subscriptions": args.subscriptions, "runners": args.runners, "batch": args.batch}
    pg = await asyncpg.connect(plain)
    try:
        app = create_app(Settings(database_url=url, **_settings(env)), clock=ManualClock(ACTIVATED))
        service: Billing = app.state.service
        async with service.runtime.running():
            results["data"] = await create_data(service, app, pg, args, bootstrap, prefix)
        await pg.execute("VACUUM ANALYZE")
        first_event = int(await pg.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))
        log(f"data ready; the per-subscription path for {args.baseline_seconds} s")
        base = await baseline(url, env, args.baseline_seconds)
        base["invoices"] = int(await pg.fetchval("SELECT count(*) FROM invoices"))
        base["invoices_per_s"] = round(base["invoices"] / base["seconds"], 1)
        results["per_subscription_path"] = base
        log(f"per-subscription path: {base}; the bill run with {args.runners} runners")
        results["bill_run"] = await bill_run(env, args.runners, database)
        log(f"bill run: {results['bill_run']}; checks")
        results["checks"] = await checks(pg, args.subscriptions, first_event)
        log("checks passed; the limit (plain multi-row INSERTs of the same rows)")
        results["limit"] = await limit(pg, args.batch, first_event)
    finally:
        await pg.close()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
    bill = results["bill_run"]
    bill["ratio_to_limit"] = round(bill["invoices"] / bill["seconds"] / results["limit"]["invoices_per_s"], 3)
    results["goal"] = {"invoices_per_s": GOAL_RATE, "ratio_to_limit": GOAL_RATIO,
                       "met": bill["invoices_per_s"] >= GOAL_RATE and bill["ratio_to_limit"] >= GOAL_RATIO}  # fmt: skip
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"wrote {RESULTS.relative_to(ROOT)}")


def print_table(r: dict[str, Any]) -> None:
    b, lim, base = r["bill_run"], r["limit"], r["per_subscription_path"]
    print(f"\nBill run: {r['subscriptions']} subscriptions on 20 plans, {r['runners']} runners, {r['batch']} per "
          f"transaction; load average {r['load_average']}")  # fmt: skip
    print(f"{'what':<44} {'invoices':>9} {'seconds':>9} {'invoices/s':>11}")
    print(f"{'per-subscription path (before)':<44} {base['invoices']:>9} {base['seconds']:>9} "
          f"{base['invoices_per_s']:>11}")  # fmt: skip
    print(f"{'bill run':<44} {b['invoices']:>9} {b['seconds']:>9} {b['invoices_per_s']:>11}")
    print(f"{'limit: multi-row INSERTs of the same rows':<44} {lim['rows']['invoices']:>9} {lim['seconds']:>9} "
          f"{lim['invoices_per_s']:>11}")  # fmt: skip
    print(f"ratio to the limit: {b['ratio_to_limit']} (goal {GOAL_RATIO}); goal met: {r['goal']['met']}")
    per = {k: round(v * 1e6 / max(b["invoices"], 1), 1) for k, v in b["cpu_s"].items()}
    print(f"CPU per invoice (us): {per}")
    c = r["checks"]
    print(f"checks passed: {c['invoices']} invoices gapless, lines {c['lines']}, {c['credited_invoices']} credited, "
          f"{c['paid_invoices']} paid, events {c['outbox_events']}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
