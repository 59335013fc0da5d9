"""CPU cost of writing a chunk's lines and outbox rows: per-row statements vs one `unnest` statement per chunk.

Interleaves the two ways (`executemany` of the lines + a multi-row outbox INSERT built per chunk, as before
issue 19's second part, against `insert_subscribers` + `EventWriter.add_many` now) over chunks of 1,000 lines and
their `SubscriberCreated` events, in a fresh database, and prints the CPU seconds per row of this Python process
and of the PostgreSQL backends serving it (read from /proc, so the machine's load inflates them little).

    . deploy/local/env.sh && .venv/bin/python bench/bulk/writes.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import insert

from bss_contracts.events.customers import SubscriberCreated
from customers.adapters.tables import customers, subscribers
from customers.bulk import adapters
from customers.config import Settings
from customers.entrypoints.app import build_runtime

CHUNK = 1_000


async def backend_cpu(admin: str, database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to `database`."""
    conn = await asyncpg.connect(admin)
    try:
        sql = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'"
        pids = [r[0] for r in await conn.fetch(sql, database)]
    finally:
        await conn.close()
    return sum(_ticks(pid) for pid in pids) / os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int:
    """utime + stime of a process (0 if it has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    return int(fields[11]) + int(fields[12])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=4, help="chunks of 1,000 per way and round")
    args = parser.parse_args()
    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    database = f"bench_writes_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    try:
        url = admin.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{database}"
        runtime = build_runtime(Settings(database_url=url, log_level="WARNING"))
        await runtime.migrate()
        events = runtime.events
        now = datetime.now(UTC)

        async def per_row(session: Any, lines: list[dict[str, Any]], staged: list[Any]) -> None:
            await session.execute(insert(subscribers), lines)  # executemany: a statement per row
            envelopes = [events._wrap(e, t, None, None) for e, t in staged]
            await session.execute(
                events._insert, [events._row(e, t) for e, (_, t) in zip(envelopes, staged, strict=True)]
            )

        async def set_based(session: Any, lines: list[dict[str, Any]], staged: list[Any]) -> None:
            await adapters.insert_subscribers(session, lines)
            await events.add_many(session, staged)

        totals: dict[str, list[float]] = {"per row": [0.0, 0.0], "unnest": [0.0, 0.0]}
        for _ in range(args.rounds):
            for name, write in (("per row", per_row), ("unnest", set_based)):
                for _ in range(args.chunks):
                    async with runtime.database.transaction() as session:
                        rows = [{"tenant_id": "t", "id": str(uuid.uuid4()), "name": "x", "created_at": now,
                                 "updated_at": now} for _ in range(CHUNK)]  # fmt: skip
                        await session.execute(insert(customers), rows)
                        lines = [{"tenant_id": "t", "id": str(uuid.uuid4()), "customer_id": r["id"],
                                  "username": str(uuid.uuid4()), "plan_id": "p", "status": "pending",
                                  "status_changed_at": now, "created_at": now} for r in rows]  # fmt: skip
                        staged = [(SubscriberCreated(subscriber_id=r["id"], customer_id=r["customer_id"],
                                                     username=r["username"], plan_id="p", status="pending",
                                                     created_at=now), "t") for r in lines]  # fmt: skip
                        pg0, py0 = await backend_cpu(admin, database), time.process_time()
                        await write(session, lines, staged)
                        py1 = time.process_time()
                        totals[name][0] += py1 - py0
                        totals[name][1] += await backend_cpu(admin, database) - pg0
        n = args.rounds * args.chunks * CHUNK
        for name, (py, pg) in totals.items():
            print(f"{name:8} {n} lines + {n} outbox rows: Python {1e6 * py / n:.0f} µs/row, "
                  f"PostgreSQL {1e6 * pg / n:.0f} µs/row; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        await runtime.database.engine.dispose()
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
