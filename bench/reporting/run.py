"""Reporting benchmark: the six report endpoints on 10 million sessions, 1 million invoices and 50,000
subscribers, against the same answers computed the seeds' way (request-time joins over raw tables).

    .venv/bin/python bench/reporting/run.py            # generate, measure, print, write bench/results/reporting.json
    .venv/bin/python bench/reporting/run.py --reuse    # keep data generated before with the same sizes
    .venv/bin/python bench/reporting/run.py --scale 0.01   # a quick run on 1% of the data

PostgreSQL: PG_ADMIN_URL (default postgresql://postgres:postgres@127.0.0.1:55432/postgres); the data goes in
a database of its own, `bench_reporting`, left in place for --reuse (drop it when done).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import generate
import httpx
import raw_queries
from generate import EXPORT_TENANT, TENANT, Sizes
from sqlalchemy.ext.asyncio import create_async_engine

from bss_runtime.auth import issue_token
from bss_runtime.migrations import upgrade
from reporting.adapters.partitions import SessionPartitions, add_months, month_of, month_start
from reporting.adapters.session_report import session_report
from reporting.config import Settings
from reporting.domain import collections
from reporting.entrypoints.app import MIGRATIONS, create_app

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "reporting.json"
DATABASE = "bench_reporting"
RETENTION_MONTHS = 13
GOALS = {"sessions/history": 20.0, "aging": 50.0, "blocked-customers": 50.0, "one subscriber's history": 5.0}  # p95 ms
RATIO_GOAL = 20.0
COPY_RATIO_GOAL = 0.5  # the CSV export's speed against COPY ... TO STDOUT of the same rows


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def urls(admin: str) -> tuple[str, str, str]:
    parts = urlsplit(admin)
    plain = urlunsplit(parts._replace(scheme="postgresql", path=f"/{DATABASE}"))
    return plain, urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{DATABASE}")), admin


# ---------------------------------------------------------------- data


async def existing_sizes(admin: str) -> dict[str, Any] | None:
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            return None
    finally:
        await conn.close()
    plain, _, _ = urls(admin)
    conn = await asyncpg.connect(plain)
    try:
        if not await conn.fetchval("SELECT to_regclass('raw.meta')"):
            return None
        row = await conn.fetchrow("SELECT generated_at, sizes FROM raw.meta")
        return None if row is None else {"generated_at": row["generated_at"], "sizes": json.loads(row["sizes"])}
    finally:
        await conn.close()


async def without_indexes(conn: asyncpg.Connection, table: str, load: Callable[[], Awaitable[None]]) -> None:
    """Load a table with its indexes dropped, then build them (much faster than maintaining them per row)."""
    schema, name = table.split(".")
    pk = await conn.fetchrow(
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass "
        "AND contype = 'p'",
        table,
    )
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexname <> $3",
        schema,
        name,
        pk["conname"] if pk else "",
    )
    for index in indexes:
        await conn.execute(f'DROP INDEX "{schema}"."{index["indexname"]}"')
    if pk:
        await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{pk["conname"]}"')
    await load()
    if pk:
        await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{pk["conname"]}" {pk["def"]}')
    for index in indexes:
        await conn.execute(index["indexdef"].replace(" ON ONLY ", " ON "))


async def generate_data(admin: str, sizes: Sizes, now: datetime) -> float:
    started = time.perf_counter()
    plain, sqlalchemy_url, _ = urls(admin)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade, sqlalchemy_url, MIGRATIONS)
    engine = create_async_engine(sqlalchemy_url)
    partitions = SessionPartitions("readmodel", retention_months=RETENTION_MONTHS, ahead_months=3)
    async with engine.begin() as sa_conn:
        await partitions.maintain(sa_conn, now)
    await engine.dispose()
    cutoff = month_start(add_months(month_of(now), -RETENTION_MONTHS)) + timedelta(hours=1)

    conn = await asyncpg.connect(plain)
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'; SET work_mem = '64MB'; SET synchronous_commit = off")
        await conn.execute("SET max_parallel_maintenance_workers = 1; SET jit = off")
        literal = f"timestamptz '{now.isoformat()}'"

        async def run(sql: str) -> None:
            await conn.execute(sql.replace(":now", literal))

        await conn.execute(generate.RAW_SCHEMA)
        for sql in generate.raw_data(sizes, cutoff.isoformat()):
            await run(sql)
        log("raw tables filled")
        await conn.execute(generate.RAW_INDEXES)
        log("raw tables indexed")
        steps = generate.read_model_data(sizes)
        targets = [
            *("customers", "subscribers", "invoices", "customer_balances", "invoice_movements", "aging_balances"),
            "aging_changes",
            *("sla_breaches", "sla_totals", "sla_credits"),
            *("sessions", "session_hours", "session_days", "subscribers", None),
        ]
        for sql, table in zip(steps, targets, strict=True):
            if table in ("invoices", "invoice_movements", "sessions"):
                await without_indexes(conn, f"readmodel.{table}", lambda sql=sql: run(sql))  # type: ignore[misc]
            else:
                await run(sql)
            log(f"read model: {table or 'done'}")
        await conn.execute("INSERT INTO raw.meta VALUES ($1, $2)", now, json.dumps(sizes.__dict__))
        await conn.execute("VACUUM (ANALYZE)")
        log("vacuumed and analyzed")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def upgrade_reused(admin: str) -> None:
    """Data generated by an earlier version: the service's newer migrations, which fill the read models they add
    from the tables already there (as in a deployment), then statistics."""
    plain, sqlalchemy_url, _ = urls(admin)
    await asyncio.to_thread(upgrade, sqlalchemy_url, MIGRATIONS)
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute("ANALYZE readmodel.customer_balances")
    finally:
        await conn.close()


# ---------------------------------------------------------------- measuring


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2), "runs": len(ordered)}


async def timed(fn: Callable[[int], Awaitable[Any]], runs: int, warmup: int = 2) -> tuple[dict[str, float], Any]:
    result = None
    for n in range(warmup):
        result = await fn(n)
    samples = []
    for n in range(runs):
        started = time.perf_counter()
        result = await fn(n)
        samples.append((time.perf_counter() - started) * 1000)
    return stats(samples), result


def last_month_end(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


async def measure(
    admin: str, sizes: Sizes, now: datetime, runs: int, raw_runs: int, only: str = ""
) -> list[dict[str, Any]]:
    plain, sqlalchemy_url, _ = urls(admin)
    # httpx's in-process ASGI client tries `import sniffio` (not installed) on every request, a failed import that
    # searches sys.path each time: the measuring client's own cost, not the service's. Known absent, it fails at once.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    app = create_app(Settings(database_url=sqlalchemy_url, log_level="WARNING"))
    token = issue_token(app.state.service.runtime.jwt, subject="bench", tenant_id=TENANT, roles=["admin"])
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://reporting",
        headers={"Authorization": f"Bearer {token}"},
    )
    raw = await asyncpg.connect(plain)
    await raw.execute("SET jit = off")  # fair: the read model's queries run without JIT too
    own = await asyncpg.connect(plain)  # the read model's statements alone, set up as the service's connections
    await own.execute("SET jit = off; SET plan_cache_mode = force_generic_plan")
    today = datetime.now(UTC).date()
    month_end = last_month_end(today)
    real_now = datetime.now(UTC)
    users = [1 + (n * 7919) % sizes.subscribers for n in range(64)]

    async def get(path: str, **params: Any) -> Any:
        response = await client.get(f"/billing/reports/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json() if "export" not in path else response.text

    cases: list[
        tuple[str, str, Callable[[int], Awaitable[Any]], Callable[[int], Awaitable[Any]], Callable[[Any, Any], bool]]
    ] = []
    query_only: dict[str, Callable[[int], Awaitable[Any]]] = {}
    # Cases that ask for a different subscriber on each run: both sides are warmed up with every input they
    # are then timed on, so that both are measured with their pages in the cache (the steady state).
    many_inputs: set[str] = set()

    # blocked customers
    async def rm_blocked(_: int) -> Any:
        rows = await get("blocked-customers")
        return [(r["subscriber_id"], r["currency"], r["outstanding_balance_minor"], r["overdue_invoices"],
                 r["open_invoices"], r["next_action"], r["priority"]) for r in rows]  # fmt: skip

    async def raw_blocked(_: int) -> Any:
        rows = await raw_queries.blocked(raw, TENANT, today)
        out = []
        moment = datetime.now(UTC)
        for r in rows:
            days = collections.days_blocked(r["suspended_at"], moment)
            balance = collections.major_units(r["balance_minor"], r["currency"])
            out.append((r["subscriber_id"], r["currency"], r["balance_minor"], r["overdue_invoices"],
                        r["open_invoices"], collections.next_action(days, balance).value,
                        collections.priority(days, balance).value, days))  # fmt: skip
        out.sort(key=lambda x: (collections.PRIORITY_ORDER[collections.Priority(x[6])], -x[7], x[0], x[1]))
        return [x[:7] for x in out]

    cases.append(("blocked-customers", "default filters", rm_blocked, raw_blocked, lambda a, b: a == b))

    # aging
    def aging_case(group: str, as_of: date | None, label: str) -> None:
        path = "aging/by-partner" if group == "partner_id" else "aging/by-region"
        key = "partner_id" if group == "partner_id" else "region"

        async def rm(_: int) -> Any:
            rows = await get(path, **({"as_of": as_of.isoformat()} if as_of else {}))
            return [(r[key], r["currency"], r["invoice_count"], r["total_outstanding_minor"], r["buckets_minor"])
                    for r in rows]  # fmt: skip

        async def rq(_: int) -> Any:
            rows = await raw_queries.aging(raw, TENANT, as_of or today, group)
            return [(r["group"], r["currency"], r["invoice_count"], r["total_minor"], r["buckets_minor"]) for r in rows]

        cases.append((path, label, rm, rq, lambda a, b: a == b))

    aging_case("partner_id", None, "as of today")
    aging_case("billing_country", None, "as of today")
    aging_case("partner_id", month_end, f"as of {month_end} (month end)")
    aging_case("billing_country", month_end, f"as of {month_end} (month end)")

    # services export
    async def rm_export(_: int) -> Any:
        lines = (await get("services/export")).splitlines()
        return [tuple(line.split(",")[:3]) for line in lines[1:]]

    async def raw_export(_: int) -> Any:
        # As the seed did: the rows, then Python's csv module.
        text = raw_queries.as_csv(await raw_queries.services(raw, TENANT))
        return [tuple(line.split(",")[:3]) for line in text.splitlines()[1:]]

    cases.append(("services/export", "csv, all active services", rm_export, raw_export, lambda a, b: a == b))

    # SLA breaches
    def sla_case(label: str, resolved: bool | None, min_credit: int) -> None:
        async def rm(_: int) -> Any:
            params: dict[str, Any] = {"min_credit_amount": f"{min_credit / 100:.2f}"}
            if resolved is not None:
                params["resolved"] = str(resolved).lower()
            report = await get("sla-breaches", **params)
            s = report["summary"]
            return {"total": s["total_breaches"], "resolved": s["resolved_breaches"],
                    "credits": [(c["currency"], c["amount_minor"]) for c in s["total_credits_issued"]],
                    "page": [(b["breach_id"], b["credit_amount_minor"], b["customer_name"])
                             for b in report["breaches"]]}  # fmt: skip

        async def rq(_: int) -> Any:
            return await raw_queries.sla(raw, TENANT, resolved, min_credit)

        cases.append(("sla-breaches", label, rm, rq, lambda a, b: a == b))

    sla_case("all, first page", None, 0)
    sla_case("unresolved, credit >= 10.00", False, 1000)

    # sessions
    def sessions_case(label: str, by: str | None, days: int) -> None:
        async def rm(n: int) -> Any:
            params: dict[str, Any] = {
                "start_date": (real_now - timedelta(days=days)).isoformat(),
                "end_date": real_now.isoformat(),
            }
            if by == "username":
                params["username"] = f"user{users[n % len(users)]}"
            elif by == "subscriber_id":
                params["subscriber_id"] = f"s{users[n % len(users)]}"
            report = await get("sessions/history", **params)
            s = report["summary"]
            totals = (s["total_sessions"], s["total_input_octets"], s["total_output_octets"],
                      s["total_duration_seconds"])  # fmt: skip
            return {"totals": totals,
                    "page": [(x["session_key"], x["subscriber_id"]) for x in report["sessions"]]}  # fmt: skip

        async def rq(n: int) -> Any:
            user = f"user{users[n % len(users)]}" if by else None
            return await raw_queries.sessions(raw, TENANT, user, real_now - timedelta(days=days), real_now)

        async def rm_query(n: int) -> Any:
            # The read model's own statement, without the HTTP app, on a connection of its own: timed as the
            # seeds' way is.
            user = users[n % len(users)]
            return await session_report(
                own, "readmodel", TENANT, start=real_now - timedelta(days=days), end=real_now,
                subscriber_id=f"s{user}" if by == "subscriber_id" else None,
                username=f"user{user}" if by == "username" else None, limit=100, offset=0,
            )  # fmt: skip

        cases.append(("sessions/history", label, rm, rq, lambda a, b: a == b))
        query_only[label] = rm_query
        if by is not None:
            many_inputs.add(label)

    sessions_case("tenant-wide, last 30 days", None, 30)
    sessions_case("tenant-wide, last 12 months", None, 365)
    sessions_case("one username, last 30 days", "username", 30)
    sessions_case("one subscriber_id, last 12 months", "subscriber_id", 365)

    results = []
    for path, label, rm, rq, same in cases:
        if only and only not in path:
            continue
        rm_runs = runs if "export" not in path else max(runs // 4, 5)
        every = label in many_inputs
        rm_stats, rm_answer = await timed(rm, rm_runs, warmup=rm_runs if every else 2)
        # Same inputs for both sides: compare the answers of run 0.
        raw_stats, _ = await timed(rq, raw_runs, warmup=raw_runs if every else 1)
        agree = same(await rm(0), await rq(0))
        ratio = round(raw_stats["p50_ms"] / rm_stats["p50_ms"], 1)
        result = {"endpoint": path, "case": label, "read_model": rm_stats, "seeds_way": raw_stats,
                  "speedup_p50": ratio, "same_answers": agree}  # fmt: skip
        if label in query_only:
            result["read_model_query_only"], _ = await timed(query_only[label], runs, warmup=runs if every else 2)
        results.append(result)
        log(f"{path} [{label}]: read model p50 {rm_stats['p50_ms']} ms p95 {rm_stats['p95_ms']} ms; "
            f"seeds' way p50 {raw_stats['p50_ms']} ms; x{ratio}; same answers: {agree}")  # fmt: skip
        del rm_answer
    await client.aclose()
    await raw.close()
    await own.close()
    await app.state.service.runtime.database.close()
    if app.state.reports.reads is not None:
        await app.state.reports.reads.dispose()
    return results


def export_memory(admin: str, formats: list[str]) -> list[dict[str, Any]]:
    _, sqlalchemy_url, _ = urls(admin)
    out = []
    script = Path(__file__).with_name("export_memory.py")
    for fmt in formats:
        done = subprocess.run(
            [sys.executable, str(script), sqlalchemy_url, EXPORT_TENANT, fmt],
            capture_output=True, text=True, check=False, timeout=1800,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"export {fmt} failed: {done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        out.append(result)
        log(f"export {fmt}: {result['rows']} rows, {result['bytes'] / 1e6:.1f} MB in {result['seconds']} s, "
            f"peak RSS {result['peak_rss_mb']} MB (before: {result['rss_before_mb']} MB)"
            + (f"; COPY TO STDOUT of the same rows {result['copy_seconds']} s: x{result['ratio_to_copy']}"
               if "copy_seconds" in result else ""))  # fmt: skip
    return out


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'endpoint':<20} {'case':<36} {'rm p50':>8} {'rm p95':>8} {'seed p50':>9} {'seed p95':>9} {'x p50':>7}  "
        f"same  {'rm query p50/p95':>16}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        query = r.get("read_model_query_only")
        lines.append(
            f"{r['endpoint']:<20} {r['case'][:36]:<36} "
            f"{r['read_model']['p50_ms']:>8.2f} {r['read_model']['p95_ms']:>8.2f} "
            f"{r['seeds_way']['p50_ms']:>9.1f} {r['seeds_way']['p95_ms']:>9.1f} {r['speedup_p50']:>7.1f}  "
            f"{'yes ' if r['same_answers'] else 'NO  '}  "
            + (f"{query['p50_ms']:>7.2f} /{query['p95_ms']:>7.2f}" if query else "")
        )
    return "\n".join(lines)


def goals(results: list[dict[str, Any]], memory: list[dict[str, Any]]) -> dict[str, Any]:
    sessions = [r["read_model"]["p95_ms"] for r in results if r["endpoint"] == "sessions/history"]
    one = [r["read_model"]["p95_ms"] for r in results if r["endpoint"] == "sessions/history" and "one " in r["case"]]
    aging = [r["read_model"]["p95_ms"] for r in results if r["endpoint"].startswith("aging")]
    blocked = [r["read_model"]["p95_ms"] for r in results if r["endpoint"] == "blocked-customers"]
    copy = [m["ratio_to_copy"] for m in memory if "ratio_to_copy" in m]
    return {
        # issue 16, part 4
        "blocked_customers_p95_under_50ms": bool(blocked) and max(blocked) < GOALS["blocked-customers"],
        "one_subscriber_history_p95_under_5ms": bool(one) and max(one) < GOALS["one subscriber's history"],
        "csv_export_at_least_half_copy_speed": bool(copy) and min(copy) >= COPY_RATIO_GOAL,
        # earlier issues
        "sessions_history_p95_under_20ms": max(sessions, default=0) < GOALS["sessions/history"],
        "aging_p95_under_50ms": max(aging, default=0) < GOALS["aging"],
        "cases_at_least_20x": [f"{r['endpoint']} [{r['case']}]" for r in results if r["speedup_p50"] >= RATIO_GOAL],
        "cases_below_20x": [
            f"{r['endpoint']} [{r['case']}] x{r['speedup_p50']}" for r in results if r["speedup_p50"] < RATIO_GOAL
        ],
        "all_answers_agree": all(r["same_answers"] for r in results),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full data set")
    parser.add_argument("--reuse", action="store_true", help="keep data already generated with the same sizes")
    parser.add_argument("--runs", type=int, default=40, help="timed runs per read-model case")
    parser.add_argument("--raw-runs", type=int, default=7, help="timed runs per seeds'-way case")
    parser.add_argument("--only", default="", help="measure only the endpoints whose path contains this")
    parser.add_argument("--export-formats", default="csv,json,parquet,xlsx", help="'' to skip the export memory runs")
    args = parser.parse_args()
    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    sizes = Sizes(
        subscribers=max(int(50_000 * args.scale), 100),
        invoices_per_customer=20,
        sessions=max(int(10_000_000 * args.scale), 1000),
        breaches=max(int(20_000 * args.scale), 40),
        export_rows=max(int(1_000_000 * args.scale), 1000),
    )
    found = await existing_sizes(admin)
    if args.reuse and found and found["sizes"] == sizes.__dict__:
        now, generation = found["generated_at"], None
        log(f"reusing data generated at {now}")
        await upgrade_reused(admin)
    else:
        now = datetime.now(UTC).replace(microsecond=0)
        log(f"generating {sizes}")
        generation = round(await generate_data(admin, sizes, now), 1)
        log(f"generated in {generation} s")
    load_before = os.getloadavg()
    results = await measure(admin, sizes, now, args.runs, args.raw_runs, args.only)
    load_after = os.getloadavg()
    formats = [f for f in args.export_formats.split(",") if f]
    memory = export_memory(admin, formats) if formats else []
    summary = {
        "benchmark": "reporting",
        "when": datetime.now(UTC).isoformat(),
        "data": sizes.__dict__ | {"invoices": sizes.invoices, "tenant": TENANT},
        "generation_seconds": generation,
        # The machine is shared: its load while measuring says how much the figures can be trusted.
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after": load_after},
        "results": results,
        "export_memory": memory,
        "goals": goals(results, memory),
    }
    print()
    print(table(results))
    print()
    for m in memory:
        print(f"export {m['format']:<8} {m['rows']:>9} rows {m['bytes'] / 1e6:>8.1f} MB {m['seconds']:>7.1f} s  "
              f"peak RSS {m['peak_rss_mb']} MB (idle server {m['rss_before_mb']} MB)"
              + (f"  COPY TO STDOUT {m['copy_seconds']:.1f} s, export/COPY speed x{m['ratio_to_copy']}"
                 if "copy_seconds" in m else ""))  # fmt: skip
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after} on {os.cpu_count()} CPUs")
    print(json.dumps(summary["goals"], indent=2))
    if args.only:
        return  # a partial run: the recorded results stay those of the last full one
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    log(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
