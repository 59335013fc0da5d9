"""Read-side apply rate: how fast each consumer turns a backlog of real events on Kafka into its tables.

One run, on this machine, with Kafka and PostgreSQL on it:
1. Builds the stream of `stream.py` (20,000 sessions by default: Start, 2 Interim-Updates, Stop each, plus
   customers, subscribers and invoices) and publishes it to fresh topics (a throwaway prefix) as the services'
   outbox relays do.
2. For each consumer in turn -- reporting, billing (the services themselves, `python -m <service>`, each on a
   fresh database) and radius-ingest's session tracker -- starts it against the full backlog and samples its
   consumer group's committed offsets every 0.5 s until it has consumed everything: events/s from its first
   commit to its last, the lag over time, and CPU per event of the consumer, of PostgreSQL's backends of its
   database and of the Kafka broker.
3. Replays the topics with `reporting.rebuild` (verify mode: rebuilt tables compared row by row with the live
   ones: batch sizes differ, results must not) and reports its events/s.
4. Checks the batch path against the one-event-per-transaction path: every event of a sample of sessions (and
   all customer and invoice events) applied one at a time into a scratch schema must give the same rows.
5. The limit: the consumer's resulting rows (read model + processed-event records) written with COPY into
   empty copies of the same tables (same indexes); the consumer's events/s is compared with that.
Prints a table and writes bench/results/apply.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "radius"))
import cpu
import e2e
import stream as event_stream

from bss_contracts import topics
from bss_runtime.consumer import EventRoutes
from bss_runtime.db import Database
from bss_runtime.kafka import ensure_topics
from bss_runtime.service import tune_garbage_collector
from reporting.adapters.partitions import SessionPartitions
from reporting.adapters.tables import build_tables
from reporting.config import Settings as ReportingSettings
from reporting.entrypoints import handlers
from reporting.service_layer.rebuild import Rebuild

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "apply.json"
TOPICS = [topics.CUSTOMERS, topics.SUBSCRIBERS, topics.INVOICES, topics.SESSIONS, topics.NAS]


@dataclass
class Consumer:
    name: str
    group: str
    topics: list[str]  # base names it reads
    database: str
    command: list[str]
    result_tables: list[str]  # schema.table written by it: what the COPY limit writes
    env: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def async_url(admin: str, database: str) -> str:
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


create_database = e2e.radius_bench._create_database  # bench/radius: CREATE DATABASE through the admin URL
drop_database = e2e.radius_bench.freeradius.drop_database


async def publish(bootstrap: str, prefix: str, envelopes: list[Any]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    started = time.monotonic()
    try:
        futures = []
        for env in envelopes:
            futures.append(
                await producer.send(
                    f"{prefix}{env.data.topic.name}",
                    env.model_dump_json().encode(),
                    key=env.subject.encode(),
                    headers=[(k, v.encode()) for k, v in env.headers().items()],
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.monotonic() - started


class Offsets:
    """Committed offsets of a group against the topics' end offsets."""

    def __init__(self, bootstrap: str, prefix: str, names: list[str]) -> None:
        self._bootstrap = bootstrap
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._prefix = prefix
        self._names = [f"{prefix}{n}" for n in names]
        self.ends: dict[TopicPartition, int] = {}
        self._started = False

    async def start(self) -> None:
        """(Re)read the topics' end offsets."""
        if not self._started:
            await self._admin.start()
            self._started = True
        probe = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None)
        await probe.start()
        try:
            await probe._client.force_metadata_update()
            parts = [TopicPartition(n, p) for n in self._names for p in (probe.partitions_for_topic(n) or set())]
            self.ends = await probe.end_offsets(parts)
        finally:
            await probe.stop()

    def base(self, topic: str) -> str:
        return topic.removeprefix(self._prefix)

    @property
    def total(self) -> int:
        return sum(self.ends.values())

    async def committed(self, group: str) -> dict[str, int]:
        """Committed offsets of `group`, summed per base topic name."""
        offsets = await self._admin.list_consumer_group_offsets(group)
        out: dict[str, int] = {}
        for tp, meta in offsets.items():
            if tp in self.ends and meta.offset >= 0:
                out[self.base(tp.topic)] = out.get(self.base(tp.topic), 0) + meta.offset
        return out

    def end(self, base_topics: list[str]) -> int:
        return sum(end for tp, end in self.ends.items() if self.base(tp.topic) in base_topics)

    async def close(self) -> None:
        await self._admin.close()


async def drain(consumer: Consumer, offsets: Offsets, names: list[str], timeout: float) -> dict[str, Any]:
    """Start the consumer on the backlog of `names` and follow its group until it has consumed all of it; the
    rate is taken from the sample before its first commit to the first sample with everything committed."""
    total = offsets.end(names)
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
        consumer.command, env=os.environ | consumer.env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    samples: list[tuple[float, int, dict[str, float]]] = []

    def groups() -> dict[str, list[int]]:
        return {
            consumer.name: [proc.pid, *cpu.children(proc.pid)],
            "postgresql (its database)": cpu.postgres_pids(consumer.database),
            "kafka broker": [p for p in [cpu.kafka_pid()] if p],
        }

    def cpu_now() -> dict[str, float]:
        return {name: sum(cpu.cpu_of(p) for p in pids) for name, pids in groups().items()}

    started = time.monotonic()
    baseline: int | None = None
    try:
        while time.monotonic() - started < timeout:
            done = await offsets.committed(consumer.group)
            count = sum(done.get(n, 0) for n in names)
            baseline = count if baseline is None else baseline
            samples.append((time.monotonic() - started, count, cpu_now()))
            if count >= total:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"{consumer.name} exited with {proc.returncode}")
            await asyncio.sleep(0.2)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    base = samples[0][1]
    counts = [c for _, c, _ in samples]
    complete = counts[-1] >= total
    first = next((i for i, c in enumerate(counts) if c > base), len(counts) - 1)
    i0 = max(0, first - 1)
    seconds = samples[-1][0] - samples[i0][0]
    events = counts[-1] - counts[i0]
    cpu0, cpu1 = samples[i0][2], samples[-1][2]
    return {
        "events": total - base,
        "complete": complete,
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds) if seconds > 0 else None,
        "cpu_us_per_event": {k: round((cpu1[k] - cpu0.get(k, 0.0)) * 1e6 / max(events, 1), 1) for k in cpu1},
        "lag_over_time": [(round(t, 1), total - c) for t, c, _ in samples],
    }


async def statements_reset(url: str) -> bool:
    """Start counting this database's statements afresh (pg_stat_statements); False if it is not loaded."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()))"
        )
        return True
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()


async def top_statements(url: str, events: int, limit: int = 6) -> list[dict[str, Any]] | str:
    """Where PostgreSQL's time went for this database since the reset: the costliest statements."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT calls, rows, total_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query "
            "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY total_exec_time DESC LIMIT $1",
            limit,
        )
    except asyncpg.PostgresError as exc:
        return f"pg_stat_statements unavailable: {exc}"
    finally:
        await conn.close()
    return [
        {
            "calls": r["calls"],
            "rows": r["rows"],
            "ms": round(r["total_exec_time"], 1),
            "us_per_event": round(r["total_exec_time"] * 1000 / max(events, 1), 1),
            "query": r["query"],
        }
        for r in rows
    ]


async def copy_limit(url: str, tables: list[str], events: int) -> dict[str, Any]:
    """Write the consumer's resulting rows with COPY into empty copies of its tables: the rate no consumer of
    these rows can beat on this machine."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    rows = 0
    seconds = 0.0
    try:
        await conn.execute("DROP SCHEMA IF EXISTS copy_limit CASCADE; CREATE SCHEMA copy_limit")
        for qualified in tables:
            name = qualified.split(".")[-1]
            await conn.execute(f"CREATE TABLE copy_limit.{name} (LIKE {qualified} INCLUDING ALL)")
            buffer = io.BytesIO()
            await conn.copy_from_query(f"SELECT * FROM {qualified}", output=buffer, format="binary")
            buffer.seek(0)
            t = time.monotonic()
            status = await conn.copy_to_table(name, source=buffer, schema_name="copy_limit", format="binary")
            seconds += time.monotonic() - t
            rows += int(status.split()[-1])
        await conn.execute("DROP SCHEMA copy_limit CASCADE")
    finally:
        await conn.close()
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds) if seconds else None,
    }


async def sequential_check(url: str, live_schema: str, stream: event_stream.Stream, every: int) -> dict[str, Any]:
    """Apply every customer/invoice/subscriber event and all events of every `every`-th session one event per
    transaction into a scratch schema; compare their rows with the live (batch-applied) read model."""
    scratch = build_tables("sequential_check")
    db = Database(url, pool_size=2)
    sample_keys: set[str] = set()
    chosen = []
    seen_keys: dict[str, int] = {}
    for env in stream.envelopes:
        key = getattr(env.data, "session_key", None)
        if key is None:
            chosen.append(env)
            continue
        index = seen_keys.setdefault(key, len(seen_keys))
        if index % every == 0:
            sample_keys.add(key)
            chosen.append(env)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS sequential_check CASCADE"))
            await conn.execute(text("CREATE SCHEMA sequential_check"))
            await conn.run_sync(scratch.metadata.create_all)
            partitions = SessionPartitions(scratch.schema, retention_months=13, ahead_months=1)
            await partitions.maintain(conn, datetime.now(UTC))
        routes = EventRoutes(scratch.runtime.processed_events, consumer="reporting")
        handlers.register(routes, scratch, partitions)
        for env in chosen:
            async with db.transaction() as session:
                await routes.apply(session, [env])
        async with db.engine.connect() as conn:
            differences = {}
            for table in ("customers", "subscribers", "invoices"):
                for a, b in ((live_schema, scratch.schema), (scratch.schema, live_schema)):
                    n = await conn.scalar(
                        text(f"SELECT count(*) FROM (SELECT * FROM {a}.{table} EXCEPT ALL SELECT * FROM {b}.{table}) d")
                    )
                    if n:
                        differences[f"{table} only in {a}"] = n
            keys = sorted(sample_keys)
            for a, b in ((live_schema, scratch.schema), (scratch.schema, live_schema)):
                n = await conn.scalar(
                    text(
                        f"SELECT count(*) FROM (SELECT * FROM {a}.sessions WHERE session_key = ANY(:k) "
                        f"EXCEPT ALL SELECT * FROM {b}.sessions WHERE session_key = ANY(:k)) d"
                    ),
                    {"k": keys},
                )
                if n:
                    differences[f"sessions only in {a}"] = n
            rows = await conn.scalar(text("SELECT count(*) FROM sequential_check.sessions"))
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA sequential_check CASCADE"))
    finally:
        await db.close()
    return {"events": len(chosen), "sessions_compared": rows, "differences": differences}


class TimedRebuild(Rebuild):
    replay_seconds = 0.0

    async def _replay(self, consumer: Any, ends: Any) -> None:
        started = time.monotonic()
        await super()._replay(consumer, ends)
        self.replay_seconds += time.monotonic() - started


async def main(args: argparse.Namespace) -> dict[str, Any]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
    admin = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    run_id = secrets.token_hex(3)
    prefix = f"bench-apply-{run_id}."
    await ensure_topics(bootstrap, prefix, TOPICS)
    stream = event_stream.build(sessions=args.sessions)
    session_envelopes = [e for e in stream.envelopes if e.data.topic is topics.SESSIONS]
    other_envelopes = [e for e in stream.envelopes if e.data.topic is not topics.SESSIONS]
    base_env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_PREFIX": prefix, "LOG_LEVEL": "WARNING"}
    py = str(ROOT / ".venv" / "bin" / "python")
    all_consumers = [
        Consumer(
            "reporting", "reporting", [t.name for t in TOPICS], f"bench_apply_reporting_{run_id}",
            [py, "-m", "reporting"],
            ["readmodel.sessions", "readmodel.session_hours", "readmodel.session_days", "readmodel.processed_events",
             "readmodel.customers", "readmodel.subscribers", "readmodel.invoices"],
        ),
        Consumer(
            "billing", "billing", [topics.CUSTOMERS.name, topics.SUBSCRIBERS.name, topics.SESSIONS.name],
            f"bench_apply_billing_{run_id}", [py, "-m", "billing"],
            ["public.usage_samples", "public.processed_events", "public.billing_customers",
             "public.billing_subscribers"],
        ),
        Consumer(
            "radius-ingest tracker", "radius-ingest-session-tracker", [topics.SESSIONS.name],
            f"bench_apply_radius_{run_id}", [py, str(ROOT / "bench" / "apply" / "tracker.py")],
            ["public.sessions"],
        ),
    ]  # fmt: skip
    consumers = [c for c in all_consumers if not args.only or c.name.split()[0] in args.only]
    offsets = Offsets(bootstrap, prefix, [t.name for t in TOPICS])
    results: dict[str, Any] = {
        "events": len(stream.envelopes),
        "session_events": stream.session_events,
        "sessions": stream.sessions,
        "load_average_before": os.getloadavg(),
        "consumers": {c.name: {} for c in consumers},
    }
    session_topic = [topics.SESSIONS.name]
    try:
        # Phase 1: what a subscriber base is made of (customers, subscribers, invoices), consumed by each.
        seconds = await publish(bootstrap, prefix, other_envelopes)
        print(f"published {len(other_envelopes):,} customer, subscriber and invoice events in {seconds:.1f} s")
        await offsets.start()
        for consumer in consumers:
            await create_database(admin, consumer.database)
            url = async_url(admin, consumer.database)
            consumer.env = base_env | {"DATABASE_URL": url, "HTTP_PORT": str(free_port()), "BI_WORKER_ENABLED": "false"}
            others = [t for t in consumer.topics if t not in session_topic]
            if others:
                print(f"-- {consumer.name}: customer, subscriber and invoice events")
                results["consumers"][consumer.name]["other_events"] = await drain(
                    consumer, offsets, others, args.timeout
                )
        # Phase 2: the RADIUS session burst, a backlog for each consumer in turn.
        seconds = await publish(bootstrap, prefix, session_envelopes)
        print(f"published {len(session_envelopes):,} session events of {stream.sessions:,} sessions in {seconds:.1f} s")
        await offsets.start()
        for consumer in consumers:
            outcome = results["consumers"][consumer.name]
            url = async_url(admin, consumer.database)
            print(f"-- {consumer.name}: session events")
            await statements_reset(url)
            outcome["session_events"] = await drain(consumer, offsets, session_topic, args.timeout)
            outcome["session_events"]["statements"] = await top_statements(url, offsets.end(session_topic))
            applied = offsets.end(consumer.topics)
            outcome["copy_limit"] = await copy_limit(url, consumer.result_tables, applied)
            limit = outcome["copy_limit"]["events_per_second"]
            rate = outcome["session_events"]["events_per_second"]
            outcome["ratio_to_copy_limit"] = round(rate / limit, 3) if limit and rate else None
            if consumer.name == "reporting":
                outcome["sequential_check"] = await sequential_check(url, "readmodel", stream, args.check_every)
                settings = ReportingSettings(
                    database_url=url, kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix
                )
                tune_garbage_collector()  # as `python -m reporting.rebuild` does
                rebuild = TimedRebuild(settings)
                before = cpu.self_cpu()
                await statements_reset(url)
                report = await rebuild.run(swap=False)
                replayed = report.applied + report.duplicates + report.skipped
                outcome["rebuild"] = {
                    "events": replayed,
                    "applied": report.applied,
                    "replay_seconds": round(rebuild.replay_seconds, 2),
                    "events_per_second": round(replayed / rebuild.replay_seconds),
                    "cpu_us_per_event (this process)": round((cpu.self_cpu() - before) * 1e6 / max(replayed, 1), 1),
                    "differences_from_live": report.differences,
                    "failed": report.failed,
                    "statements": await top_statements(url, replayed),
                }
            if not args.keep:
                await drop_database(admin, consumer.database)
    finally:
        await offsets.close()
        admin_client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin_client.start()
        try:
            ours = [t for t in await admin_client.list_topics() if t.startswith(prefix)]
            if ours:
                await admin_client.delete_topics(ours)
        finally:
            await admin_client.close()
    if not args.no_e2e:
        print("-- end to end: RADIUS requests to reporting rows, radius-ingest and reporting running")
        results["end_to_end"] = await asyncio.to_thread(
            e2e.run, admin, bootstrap, burst=args.burst, rate=args.rate, seconds=args.seconds
        )
    results["load_average_after"] = os.getloadavg()
    return results


def print_table(results: dict[str, Any]) -> None:
    print()
    print(
        f"{results['events']:,} events ({results['session_events']:,} session events, {results['sessions']:,} "
        f"sessions); load average before {results['load_average_before'][0]:.2f}"
    )
    head = f"{'consumer':22} {'events':8} {'events/s':>9} {'goal':>7} {'COPY limit/s':>12} {'ratio':>6}  CPU us/event"
    print(head)
    print("-" * len(head))
    for name, r in results["consumers"].items():
        for kind, goal in (("session_events", "10,000"), ("other_events", "")):
            w = r.get(kind)
            if not w:
                continue
            cpu_text = ", ".join(f"{k} {v}" for k, v in w["cpu_us_per_event"].items())
            limit, ratio = ("", "")
            if kind == "session_events":
                limit, ratio = f"{r['copy_limit']['events_per_second']:,}", str(r["ratio_to_copy_limit"])
            rate = f"{w['events_per_second']:,}" if w["complete"] else "INCOMPLETE"
            print(f"{name:22} {kind.split('_')[0]:8} {rate:>9} {goal:>7} {limit:>12} {ratio:>6}  {cpu_text}")
        if "rebuild" in r:
            rb = r["rebuild"]
            print(
                f"{'reporting rebuild':22} {'all':8} {rb['events_per_second']:>9,} {'50,000':>7} {'':>12} {'':>6}  "
                f"this process {rb['cpu_us_per_event (this process)']}; differences from live: "
                f"{rb['differences_from_live'] or 'none'}"
            )
            sc = r["sequential_check"]
            print(
                f"  one-event-per-transaction check: {sc['events']:,} events, {sc['sessions_compared']:,} sessions: "
                f"differences {sc['differences'] or 'none'}"
            )
    if e := results.get("end_to_end"):
        b, st = e["burst"], e["steady"]
        print(
            f"end to end: burst of {b['answered']:,} requests ({b['requests_per_second']:,.0f}/s) applied "
            f"{b['visible_after_last_reply_s']} s after its last reply (goal 5 s); "
            f"steady {st['requests_per_second']:,.0f} req/s: request -> report row "
            f"p50 {st['latency_s']['p50']} s, p99 {st['latency_s']['p99']} s (goal 2 s)"
        )
    for name, r in results["consumers"].items():
        for title, statements in (
            (f"{name}, session events", r["session_events"].get("statements")),
            ("reporting rebuild", r.get("rebuild", {}).get("statements")),
        ):
            if isinstance(statements, list):
                print(f"PostgreSQL time of {title} (pg_stat_statements): calls, ms, us/event, statement")
                for st in statements:
                    print(f"  {st['calls']:>7} {st['ms']:>9} {st['us_per_event']:>7}  {st['query']}")
            elif statements:
                print(f"{title}: {statements}")
    for name, r in results["consumers"].items():
        lag = r["session_events"]["lag_over_time"]
        step = max(1, len(lag) // 12)
        print(f"session lag of {name} (s, records): " + "  ".join(f"{t}:{n}" for t, n in [*lag[::step], lag[-1]]))
    print(f"load average after {results['load_average_after'][0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--only", nargs="*", choices=["reporting", "billing", "radius-ingest"])
    parser.add_argument("--timeout", type=float, default=600, help="per consumer, seconds")
    parser.add_argument("--check-every", type=int, default=20, help="one session in N is checked one-by-one")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--no-e2e", action="store_true", help="skip the RADIUS-to-report phase")
    parser.add_argument("--burst", type=int, default=20_000, help="requests of the end-to-end burst")
    parser.add_argument("--rate", type=int, default=3_000, help="requests/s of the end-to-end steady load")
    parser.add_argument("--seconds", type=int, default=20, help="length of the end-to-end steady load")
    arguments = parser.parse_args()
    outcome = asyncio.run(main(arguments))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(outcome, indent=2, default=str))
    print_table(outcome)
    print(f"written {RESULTS.relative_to(ROOT)}")
