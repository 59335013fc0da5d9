"""One bill-run worker process of bench/billing: `python bench/billing/runner.py NOW_ISO`.

Builds the billing service's parts from the environment (DATABASE_URL, ...; nothing started: no consumer, no
relay), connects, prints `ready` and waits for a line on stdin (so that every runner starts at the same
moment), runs `bill_run.close_due` with the clock at NOW_ISO, and prints one JSON line: cycles closed, wall
seconds, its own CPU seconds, and the time it ended.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import sys
import time
from datetime import datetime

from sqlalchemy import text

from billing.config import Settings
from billing.entrypoints.app import build_runtime
from billing.service_layer import bill_run
from bss_runtime.clock import ManualClock


async def main(now: datetime) -> None:
    service = build_runtime(Settings(), clock=ManualClock(now))
    deps = service.deps
    async with deps.database.transaction() as session:  # connect before the start
        await session.execute(text("SELECT 1"))
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    started, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    closed = await bill_run.close_due(deps)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    if profile is not None:  # BENCH_PROFILE=path: where this runner's CPU went, for pstats
        profile.disable()
        profile.dump_stats(f"{os.environ['BENCH_PROFILE']}.{os.getpid()}")
    await deps.database.close()
    print(json.dumps({"closed": closed, "seconds": seconds, "cpu_s": cpu_s, "ended_at": time.time()}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(datetime.fromisoformat(sys.argv[1])))
