"""Network and usage analytics benchmark: peak concurrency, top users and online now, read model vs query time.

One command (`bench/network/run.sh [--sessions N]`):
1. Generates one tenant's month of RADIUS sessions on 50 NAS and `--users` subscribers: each a Start and a Stop
   (5 minutes to 6 hours later), 2 % still open (a Start and an Interim-Update in the last half hour). Events
   are built with the contracts' models, keyed and headed as radius-ingest publishes them, in time order and
   as they are sent (a generator: memory holds only the sessions open at the moment reached, not the month).
2. Publishes them to fresh topics (a throwaway prefix), runs the reporting service as a real HTTP server (uvicorn
   on a loopback port, its own fresh database) and measures its apply rate while it drains them, in events/s,
   against radius-ingest's measured ingest rate (10,163 requests/s, issue 16's table): the read side keeps up
   when the ratio is at least 1. The lag (published, not applied yet) is printed every 10 s and saved.
3. Answers the same three questions at query time with one SQL statement each over the sessions read model
   (a sweep of +1/-1 over the month's session intervals; a sum per username; a count of the sessions whose span
   covers now) and checks the answers agree before timing.
4. Times each through HTTP (`--runs` times): p50, p95, the goals (concurrency for a month per hour p95 < 50 ms,
   top users p95 < 100 ms, online p95 < 10 ms) and the ratio to the query-time answer. Prints a table and writes
   bench/results/network.json.

The issue's size is 10,000,000 sessions; on this shared 2-core machine the default is smaller.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import secrets
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient

from bss_contracts import DomainEvent
from bss_contracts.events import radius
from bss_runtime.auth import issue_token
from reporting.config import Settings
from reporting.entrypoints.app import Reporting, create_app

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "common"))
from publishing import publish as publish_events  # noqa: E402
from publishing import stats  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "network.json"
TENANT = "bench-isp"
INGEST_ANCHOR = 10_163  # radius-ingest, requests/s (bench/radius, issue 16's table)
GOALS_MS = {"concurrency_month_hourly": 50.0, "top_users_30_days": 100.0, "online_now": 10.0}


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def build(sessions: int, users: int, seed: int = 5) -> Iterator[DomainEvent]:
    """The events in time order, generated as they are sent (nothing held but the sessions still open at the
    moment reached: a heap of their Stops, ~ the peak concurrency). Sessions start uniformly over the month
    (hour by hour, sorted within the hour), last 5 minutes to 6 hours; every 50th is still open: a Start and an
    Interim-Update in the last half hour."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    month_ago = now - timedelta(days=30)
    span_s = 30 * 86400 - 7 * 3600
    still_open = sessions // 50
    closed = sessions - still_open
    hours = span_s // 3600
    stops: list[tuple[datetime, int, radius.SessionStopped]] = []  # (time, tie-break, event)

    def common(n: int, start: datetime) -> dict[str, Any]:
        return {
            "session_key": f"k{n}", "acct_session_id": f"a{n}", "username": f"u{rng.randrange(users)}@isp",
            "nas_id": f"nas-{rng.randrange(50):02d}", "nas_ip_address": "10.0.0.1", "session_start_time": start,
        }  # fmt: skip

    n = 0
    for hour in range(hours):
        count = closed // hours + (1 if hour < closed % hours else 0)
        base = month_ago + timedelta(hours=hour)
        for offset in sorted(rng.randrange(3600) for _ in range(count)):
            start = base + timedelta(seconds=offset)
            while stops and stops[0][0] <= start:
                yield heapq.heappop(stops)[2]
            fields = common(n, start)
            yield radius.SessionStarted(
                **fields, event_time=start, session_time_seconds=0, input_octets=0, output_octets=0
            )
            length = rng.randrange(300, 6 * 3600)
            stop = start + timedelta(seconds=length)
            stopped = radius.SessionStopped(
                **fields,
                event_time=stop,
                session_time_seconds=length,
                input_octets=rng.randrange(10**6, 10**10),
                output_octets=rng.randrange(10**5, 10**9),
                terminate_cause="User-Request",
            )
            heapq.heappush(stops, (stop, n, stopped))
            n += 1
    while stops:
        yield heapq.heappop(stops)[2]
    opened = sorted(now - timedelta(minutes=rng.randrange(1, 30), seconds=rng.randrange(60)) for _ in range(still_open))
    updates: list[tuple[datetime, int, radius.SessionUpdated]] = []
    for start in opened:
        while updates and updates[0][0] <= start:
            yield heapq.heappop(updates)[2]
        fields = common(n, start)
        yield radius.SessionStarted(**fields, event_time=start, session_time_seconds=0, input_octets=0, output_octets=0)
        seen = min(now, start + timedelta(minutes=1))
        updated = radius.SessionUpdated(
            **fields, event_time=seen, session_time_seconds=60, input_octets=1000, output_octets=2000
        )
        heapq.heappush(updates, (seen, n, updated))
        n += 1
    while updates:
        yield heapq.heappop(updates)[2]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backend_cpu(pg: asyncpg.Connection, database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend of the bench's database (the service's pool and this probe)."""
    pids = await pg.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    return {r["pid"]: cpu_seconds(r["pid"]) for r in pids}


async def applied_rate(bootstrap: str, group: str, total: int, timeout: float) -> dict[str, Any]:
    """Events/s from the first committed to the last, by the consumer group's committed offsets (the topics are
    fresh: their sum is the events applied); prints the lag (published, not applied yet) every 10 s."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline = time.monotonic() + timeout
    first: float | None = None
    done = 0
    printed = time.monotonic()
    lag: list[tuple[float, int]] = []
    try:
        while time.monotonic() < deadline:
            offsets = await admin.list_consumer_group_offsets(group)
            done = sum(max(0, o.offset) for o in offsets.values())
            if done and first is None:
                first = time.perf_counter()
            if time.monotonic() - printed >= 10:
                printed = time.monotonic()
                elapsed = time.perf_counter() - (first or time.perf_counter())
                lag.append((round(elapsed, 1), total - done))
                log(f"lag {total - done:,} events ({done:,} applied, {done / max(elapsed, 1e-3):,.0f} events/s so far)")
            if done >= total:
                seconds = time.perf_counter() - (first or time.perf_counter())
                rate = round(total / max(seconds, 1e-3))
                return {"events": total, "seconds": round(seconds, 1), "events_per_s": rate, "lag": lag}
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    raise TimeoutError(f"{done} of {total} events applied in {timeout} s")


RAW_CONCURRENCY = """
WITH spans AS (
    SELECT start_time AS s, greatest(start_time, coalesce(stop_time, event_time + interval '1 hour')) AS e
    FROM readmodel.sessions WHERE tenant_id = $1 AND start_time < $3),
changes AS (
    SELECT at, sum(d) AS d FROM (SELECT s AS at, 1 AS d FROM spans WHERE e > s
                                 UNION ALL SELECT e, -1 FROM spans WHERE e > s) x GROUP BY at),
levels AS (SELECT at, sum(d) OVER (ORDER BY at) AS level FROM changes)
SELECT max(level)::int FROM levels WHERE at >= $2 AND at < $3
"""
RAW_TOP = """
SELECT username, sum(input_octets + output_octets)::bigint AS bytes FROM readmodel.sessions
WHERE tenant_id = $1 AND time >= $2 AND time < $3 GROUP BY username ORDER BY bytes DESC, username LIMIT 10
"""
RAW_ONLINE = """
SELECT count(*)::int FROM readmodel.sessions WHERE tenant_id = $1 AND start_time <= $2
  AND coalesce(stop_time, event_time + interval '1 hour') > $2
"""


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> dict[str, float]:
    for _ in range(2):
        await fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    return stats(samples)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    suffix = secrets.token_hex(4)
    database, prefix = f"bench_network_{suffix}", f"bench-network-{suffix}."
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    parts = urlsplit(admin)
    plain = urlunsplit(parts._replace(path=f"/{database}"))
    url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))

    total = 2 * args.sessions  # each session: Start and Stop, or Start and Interim-Update
    log(f"publishing {total:,} session events of {args.sessions:,} sessions and {args.users:,} subscribers to "
        f"{prefix}*, generated as they are sent")  # fmt: skip
    publish_s = await publish_events(bootstrap, prefix, build(args.sessions, args.users), TENANT)
    log(f"published in {publish_s:.0f} s ({total / publish_s:,.0f} events/s)")
    results: dict[str, Any] = {"sessions": args.sessions, "events": total, "publish_s": round(publish_s, 1)}

    settings = Settings(database_url=url, kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix,
                        kafka_group_prefix=prefix, log_level="WARNING", bi_worker_enabled=False)  # fmt: skip
    app = create_app(settings)
    service: Reporting = app.state.service
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    serving = asyncio.create_task(server.serve())
    pg = await asyncpg.connect(plain)
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn's Server exposes a flag, not an event
            await asyncio.sleep(0.05)
        log("reporting (HTTP on a loopback port) applies the backlog")
        mine, backends = cpu_seconds(os.getpid()), await backend_cpu(pg, database)
        apply = await applied_rate(bootstrap, f"{prefix}reporting", total, args.timeout)
        after = await backend_cpu(pg, database)
        apply["cpu_s"] = {
            "consumer_process": round(cpu_seconds(os.getpid()) - mine, 1),
            "postgres_backends": round(sum(v - backends.get(pid, 0.0) for pid, v in after.items()), 1),
        }
        apply["cpu_us_per_event"] = {k: round(v * 1e6 / total) for k, v in apply["cpu_s"].items()}
        apply["ratio_to_ingest"] = round(apply["events_per_s"] / INGEST_ANCHOR, 2)
        apply["apply_groups"] = settings.consumer_apply_groups  # CONSUMER_APPLY_GROUPS, from the environment
        results["apply"] = apply
        log(f"applied: {apply}")
        await pg.execute("ANALYZE")
        await pg.execute("SET jit = off")
        token = issue_token(service.runtime.jwt, subject="bench", tenant_id=TENANT, roles=["ops"])
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
        now = datetime.now(UTC)
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        start = end - timedelta(days=30)

        async def concurrency() -> Any:
            window = {"from": start.isoformat(), "to": end.isoformat(), "interval": "hour"}
            r = await http.get("/analytics/network/concurrency", params=window)
            assert r.status_code == 200, r.text
            return r.json()

        async def top() -> Any:
            r = await http.get("/analytics/usage/top", params={"from": (now - timedelta(days=29)).date().isoformat(),
                                                                "to": now.date().isoformat()})  # fmt: skip
            assert r.status_code == 200, r.text
            return r.json()

        async def online() -> Any:
            r = await http.get("/analytics/network/online")
            assert r.status_code == 200, r.text
            return r.json()

        day0 = datetime.combine((now - timedelta(days=29)).date(), datetime.min.time(), UTC)
        day_end = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)

        async def raw_concurrency() -> Any:
            return await pg.fetchval(RAW_CONCURRENCY, TENANT, start, end)

        async def raw_top() -> Any:
            return await pg.fetch(RAW_TOP, TENANT, day0, day_end)

        async def raw_online() -> Any:
            return await pg.fetchval(RAW_ONLINE, TENANT, datetime.now(UTC))

        # the same answers first
        assert (await concurrency())["highest"]["peak_sessions"] == await raw_concurrency(), "peak differs"
        assert [(t["username"], t["total_bytes"]) for t in await top()] == [tuple(r) for r in await raw_top()]
        assert (await online())["online"] == await raw_online(), "online differs"
        log("read model and query-time answers agree; timing")
        results["queries"] = {}
        for name, model, raw in (
            ("concurrency_month_hourly", concurrency, raw_concurrency),
            ("top_users_30_days", top, raw_top),
            ("online_now", online, raw_online),
        ):
            mine = await timed(model, args.runs)
            theirs = await timed(raw, max(3, args.runs // 8))
            results["queries"][name] = {"read_model": mine, "query_time": theirs, "goal_p95_ms": GOALS_MS[name],
                                        "ratio_p95": round(theirs["p95_ms"] / mine["p95_ms"], 1)}  # fmt: skip
        await http.aclose()
    finally:
        server.should_exit = True
        await serving
        await pg.close()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.close()
    results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {RESULTS.relative_to(ROOT)}")


def print_table(r: dict[str, Any]) -> None:
    a = r["apply"]
    print(f"\n{r['sessions']:,} sessions, {r['events']:,} events; load average {r['load_average']}")
    print(f"apply: {a['events_per_s']:,} events/s = {a['ratio_to_ingest']}x radius-ingest's {INGEST_ANCHOR:,} req/s")
    print(f"apply CPU: {a['cpu_s']} s, per event {a['cpu_us_per_event']} us")
    print(f"{'question':<28}{'read model p50/p95 ms':>24}{'query time p50/p95 ms':>24}{'ratio':>8}{'goal':>8}")
    for name, q in r["queries"].items():
        m, t = q["read_model"], q["query_time"]
        ok = "met" if m["p95_ms"] < q["goal_p95_ms"] else "MISSED"
        print(f"{name:<28}{m['p50_ms']:>11} / {m['p95_ms']:<10}{t['p50_ms']:>11} / {t['p95_ms']:<10}"
              f"{q['ratio_p95']:>7}x {ok:>7}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
