"""The session apply step alone, outside Kafka: the live consumer's `EventConsumer.process_batch` (decode +
transaction(s)) on records built as radius-ingest publishes them, in polls of `--batch`, once per `--groups`
value on a fresh read model each time, so the runs compare in the same conditions on a shared machine.

`bench/network/apply_alone.py [--events 40000] [--batch 2000] [--groups 1 2]`: prints events/s and CPU µs per
event of this process and of PostgreSQL's backends of the bench database, per value of `apply_groups`, and
checks that every run ends with the same read model (row counts and sums of the session tables and rollups).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import ConsumerRecord
from sqlalchemy import text

from bss_contracts import Envelope
from bss_runtime.consumer import EventConsumer
from bss_runtime.db import Database
from reporting.adapters.partitions import SessionPartitions
from reporting.adapters.tables import build_tables
from reporting.entrypoints import handlers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import TENANT, backend_cpu, build, cpu_seconds, log

# What each run must end with, whatever the grouping (one figure per read-model table).
SUMMARY = """
SELECT (SELECT count(*) || '/' || coalesce(sum(input_octets + output_octets), 0) FROM "{s}".sessions),
       (SELECT count(*) || '/' || coalesce(sum(sessions), 0) FROM "{s}".session_hours),
       (SELECT count(*) || '/' || coalesce(sum(input_octets), 0) FROM "{s}".usage_days),
       (SELECT count(*) || '/' || coalesce(sum(change), 0) FROM "{s}".concurrency_changes),
       (SELECT count(*) || '/' || coalesce(sum(net), 0) || '/' || coalesce(sum(peak), 0)
          FROM "{s}".concurrency_buckets),
       (SELECT coalesce(sum(level), 0) FROM "{s}".online_levels),
       (SELECT count(*) FROM "{s}".processed_events)
"""


def records(count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """`count` session events of one tenant, as radius-ingest publishes them (key = username), spread over 12
    partitions by key."""
    out: list[ConsumerRecord[bytes, bytes]] = []
    for n, data in enumerate(itertools.islice(build(count // 2, max(100, count // 20)), count)):
        env = Envelope.wrap(data, source="/bench", tenant_id=TENANT)
        key = env.subject.encode()
        value = env.model_dump_json().encode()
        headers = [(k, v.encode()) for k, v in env.headers().items()]
        out.append(
            ConsumerRecord(
                "bss.radius.session", hash(key) % 12, n, 0, 0, key, value, None, len(key), len(value), headers
            )
        )
    return out


async def run_once(url: str, plain: str, database: str, groups: int, batch: int, recs: list[Any]) -> dict[str, Any]:
    schema = f"rm{groups}"
    rm = build_tables(schema)
    partitions = SessionPartitions(rm.schema, retention_months=13, ahead_months=1)
    db = Database(url, pool_size=groups + 1)
    consumer = EventConsumer(db, rm.runtime, group="reporting", batch_size=batch, apply_groups=groups)
    handlers.register(consumer, rm, partitions)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(rm.metadata.create_all)
        await partitions.maintain(conn, datetime.now(UTC))
    pg = await asyncpg.connect(plain)
    try:
        mine, backends = cpu_seconds(os.getpid()), await backend_cpu(pg, database)
        started = time.perf_counter()
        for i in range(0, len(recs), batch):
            await consumer.process_batch(recs[i : i + batch])
        seconds = time.perf_counter() - started
        after = await backend_cpu(pg, database)
        consumer_cpu = cpu_seconds(os.getpid()) - mine
        postgres_cpu = sum(v - backends.get(pid, 0.0) for pid, v in after.items())
        summary = tuple(await pg.fetchrow(SUMMARY.format(s=schema)))
        await pg.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await pg.close()
        await db.close()
    return {
        "groups": groups,
        "events_per_s": round(len(recs) / seconds),
        "us_per_event": {
            "consumer": round(consumer_cpu * 1e6 / len(recs)),
            "postgres": round(postgres_cpu * 1e6 / len(recs)),
        },
        "summary": summary,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    database = f"bench_apply_alone_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    parts = urlsplit(admin)
    plain = urlunsplit(parts._replace(path=f"/{database}"))
    url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))
    try:
        recs = records(args.events)
        log(f"{len(recs):,} records built; load average {os.getloadavg()}")
        results = []
        for groups in args.groups:
            result = await run_once(url, plain, database, groups, args.batch, recs)
            results.append(result)
            log(f"apply_groups={groups}: {result}")
        assert len({r["summary"] for r in results}) == 1, "the read models differ"
        log(f"same read model in every run; load average {os.getloadavg()}")
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
