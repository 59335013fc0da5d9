"""Bulk import throughput: `customers.import` of N rows (each a customer with its line), through the live path.

1. The customers service runs as an HTTP server (uvicorn on a loopback port, a fresh database, throwaway topics),
   with the bulk rate bound lifted (`BULK_ROWS_PER_SECOND`) so the figure is the engine's capacity.
2. A CSV of N rows is POSTed to `/bulk-operations/imports`; timed from the request until the operation is
   `completed` (every row validated, written, and its two events staged in the outbox in the chunk's
   transaction), and until the relay has published every one of those events to Kafka.
3. **The limit**: the same customers, subscribers and outbox rows, read back, are written again with plain
   multi-row INSERTs (chunks of `--chunk` rows per transaction) into empty copies of the three tables (same
   indexes). The table shows that rate and the import's ratio to it.

Writes bench/results/bulk.json. The database and topics are dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient

from bss_runtime.auth import issue_token
from customers.config import Settings
from customers.entrypoints.app import create_app

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services" / "customers"))
from tests.bulk_support import import_file  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "bulk.json"
TENANT = "isp-bench"
GOAL_ROWS_PER_S = 2_000


def log(message: str) -> None:
    print(f"[bulk] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def plain_inserts(pg: asyncpg.Connection, chunk: int) -> dict[str, Any]:
    """The same rows written again with plain INSERTs into empty copies of the tables: the limit."""
    tables = ("customers", "subscribers", "outbox")
    rows = {}
    for table in tables:
        await pg.execute(f"CREATE TABLE copy_{table} (LIKE {table} INCLUDING ALL)")
        rows[table] = await pg.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")
    started = time.perf_counter()
    for table in tables:
        columns = list(rows[table][0].keys())
        width, names = len(columns), ", ".join(f'"{c}"' for c in columns)
        step = min(chunk, 32_767 // width)  # PostgreSQL's limit on parameters per statement
        for start in range(0, len(rows[table]), step):
            part = rows[table][start : start + step]
            values = ", ".join(
                "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")" for i in range(len(part))
            )
            args = [r[c] for r in part for c in columns]
            async with pg.transaction():
                await pg.execute(
                    f"INSERT INTO copy_{table} ({names}) VALUES {values}",
                    *args,
                )
    seconds = time.perf_counter() - started
    counts = {t: len(rows[t]) for t in tables}
    return {"seconds": round(seconds, 2), "rows": counts, "rows_per_s": round(counts["customers"] / seconds)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=1_000, help="rows per chunk (BULK_CHUNK_SIZE) and per INSERT")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    suffix = secrets.token_hex(4)
    database, prefix = f"bench_bulk_{suffix}", f"bench-bulk-{suffix}."
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    parts = urlsplit(admin)
    plain = urlunsplit(parts._replace(path=f"/{database}"))
    url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))

    settings = Settings(database_url=url, kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix,
                        kafka_group_prefix=prefix, log_level="WARNING", bulk_rows_per_second=1e9,
                        bulk_chunk_size=args.chunk, bulk_max_items=max(args.rows, 1))  # fmt: skip
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    serving = asyncio.create_task(server.serve())
    data, _ = import_file(args.rows, prefix="bench")
    results: dict[str, Any] = {"rows": args.rows, "chunk": args.chunk, "file_bytes": len(data)}
    pg = await asyncpg.connect(plain)
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn's Server exposes a flag, not an event
            await asyncio.sleep(0.05)
        token = issue_token(app.state.runtime.jwt, subject="bench", tenant_id=TENANT, roles=["ops"])
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as http:
            log(f"importing {args.rows} rows")
            started = time.perf_counter()
            accepted = await http.post("/bulk-operations/imports", content=data, headers={"Content-Type": "text/csv"})
            assert accepted.status_code == 202, accepted.text
            accepted_s = time.perf_counter() - started
            op_id = accepted.json()["operation_id"]
            while True:
                view = (await http.get(f"/bulk-operations/{op_id}")).json()
                if view["state"] not in ("queued", "running"):
                    break
                assert time.perf_counter() - started < args.timeout, view
                await asyncio.sleep(0.05)
            completed_s = time.perf_counter() - started
            assert (view["state"], view["succeeded"]) == ("completed", args.rows), view
            events = 2 * args.rows + 1
            while await pg.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") < events:
                assert time.perf_counter() - started < args.timeout
                await asyncio.sleep(0.05)
            published_s = time.perf_counter() - started
        results["import"] = {
            "accepted_s": round(accepted_s, 2),
            "completed_s": round(completed_s, 2),
            "rows_per_s": round(args.rows / completed_s),
            "events": events,
            "published_to_kafka_s": round(published_s, 2),
            "rows_per_s_to_kafka": round(args.rows / published_s),
            "engine_rate_per_s": view["rate_per_second"],
        }
        log(f"import: {results['import']}")
        server.should_exit = True
        await serving
        results["plain_inserts"] = await plain_inserts(pg, args.chunk)
        results["ratio_to_plain_inserts"] = round(
            results["import"]["rows_per_s"] / results["plain_inserts"]["rows_per_s"], 2
        )
        results["goal_rows_per_s"] = GOAL_ROWS_PER_S
        results["goal_met"] = results["import"]["rows_per_s"] >= GOAL_ROWS_PER_S
        results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        server.should_exit = True
        if not serving.done():
            await serving
        await pg.close()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
        kafka = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await kafka.start()
        try:
            names = [t for t in await kafka.list_topics() if t.startswith(prefix)]
            if names:
                await kafka.delete_topics(names)
        finally:
            await kafka.close()
    print_table(results)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def print_table(results: dict[str, Any]) -> None:
    imp, limit = results["import"], results["plain_inserts"]
    print(f"\nBulk import, {results['rows']} rows (customer + line each), chunks of {results['chunk']}")
    print(f"{'':38} {'seconds':>8} {'rows/s':>8}")
    print(f"{'import: 202 answered':38} {imp['accepted_s']:>8} {'':>8}")
    print(f"{'import: completed (events in outbox)':38} {imp['completed_s']:>8} {imp['rows_per_s']:>8}")
    print(f"{'import: every event on Kafka':38} {imp['published_to_kafka_s']:>8} {imp['rows_per_s_to_kafka']:>8}")
    print(f"{'plain INSERTs of the same rows':38} {limit['seconds']:>8} {limit['rows_per_s']:>8}")
    print(f"ratio to plain INSERTs: {results['ratio_to_plain_inserts']}; goal >= {results['goal_rows_per_s']} rows/s: "
          f"{'met' if results['goal_met'] else 'missed'}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
