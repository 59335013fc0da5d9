"""RADIUS accounting benchmark: FreeRADIUS 3.2 + rlm_sql/PostgreSQL versus radius-ingest -> Kafka.

One packet set (>= 100,000 Accounting-Requests: Start / Interim-Update / Stop over many sessions and NAS),
one load generator, both servers in the same run on this machine. Prints a table and writes
bench/results/radius.json. Only loopback traffic; bounded in time (a few minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cpu
import freeradius
import loadgen
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from broker import PrivateBroker
from packets import PacketSet, build

ROOT = Path(__file__).resolve().parents[2]
IDLE_SECONDS = 5.0  # the service and its broker with no traffic, measured before the run: their fixed cost
RESULTS = ROOT / "bench" / "results" / "radius.json"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [
        TopicPartition(topic, p["partition"]) for p in sorted(described["partitions"], key=lambda p: p["partition"])
    ]


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The topic's end offset per partition (where the measured run's records begin, after the warm-up)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = await _partitions(bootstrap, topic)
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def count_events(
    bootstrap: str, topic: str, expected: int, start: dict[int, int] | None = None, timeout: float = 120
) -> dict[str, int]:
    """Read the session topic back from `start` (offsets per partition; default: the beginning): how many
    records, how many distinct event ids."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    ids: set[str] = set()
    records = 0
    deadline = time.monotonic() + timeout
    try:
        partitions = await _partitions(bootstrap, topic)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        while len(ids) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).values():
                for record in batch:
                    records += 1
                    ids.add(json.loads(record.value)["id"])
    finally:
        await consumer.stop()
    return {"records": records, "distinct_event_ids": len(ids)}


async def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if ours := [t for t in await admin.list_topics() if t.startswith(prefix)]:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


async def replication_of(bootstrap: str, topic: str) -> dict[str, int]:
    """The topic's replication as created by the service: replicas per partition and `min.insync.replicas`."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        (configs,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {entry[0]: entry[1] for entry in configs.resources[0][4]}
        return {
            "replication_factor": min(len(p["replicas"]) for p in described["partitions"]),
            "min_insync_replicas": int(entries["min.insync.replicas"]),
        }
    finally:
        await admin.close()


def bench_freeradius(
    ps: PacketSet, work: Path, admin_url: str, window: int, setup: str, drain_timeout: float, rate: float | None
) -> dict[str, Any]:
    """One FreeRADIUS setup (freeradius.SQL or freeradius.DETAIL) under the load generator. For DETAIL, the
    answers come from the detail file; the run then waits until buffered-sql has read it all into radacct
    (the data is queryable only then) and reports that drain and the CPU of load + drain apart."""
    database = f"radius_bench_{secrets.token_hex(4)}"
    asyncio.run(freeradius.create_radius_database(admin_url, database))
    port = free_port()
    raddb = work / f"raddb-{setup}"
    freeradius.write_config(raddb, port=port, nas=ps.nas, db_url=admin_url, database=database, setup=setup)
    server = freeradius.FreeRadius(raddb)
    result: dict[str, Any] = {"setup": setup}
    try:
        server.check()
        server.start()
        _wait_status(port, ps)
        pid = server.process.pid if server.process else 0
        attribution = cpu.Attribution(lambda: _freeradius_processes(pid, database))
        attribution.start()
        started = time.monotonic()
        stats = loadgen.run(ps, "127.0.0.1", port, window=window, rate=rate)
        loaded = time.monotonic()
        breakdown = attribution.finish(stats.answered)
        result |= {"stats": dataclasses.asdict(stats), "cpu": breakdown}
        result["server_cpu_seconds"] = breakdown["cpu_seconds"]["FreeRADIUS"]  # type: ignore[index]
        if setup == freeradius.DETAIL:
            drained_at = _wait_drained(raddb, admin_url, database, drain_timeout)
            total = attribution.finish(stats.answered)
            drained = drained_at is not None
            finished = drained_at or time.monotonic()
            result["drain"] = {
                "drained": drained,
                "seconds_after_last_reply": round(finished - loaded, 1),
                # requests whose data reached radacct, per second from the first request sent
                "queryable_rps": round(stats.answered / (finished - started), 1) if drained else None,
                "cpu": total,
            }
        result["radacct"] = asyncio.run(freeradius.count_radacct(admin_url, database))
    finally:
        server.stop()
        asyncio.run(freeradius.drop_database(admin_url, database))
    return result


def _wait_drained(raddb: Path, admin_url: str, database: str, timeout: float) -> float | None:
    """When buffered-sql had read every detail file (the reader deletes each when it is done with it), as
    time.monotonic(); None after `timeout`. radacct must then stay still (nothing was left in flight)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not freeradius.detail_files(raddb):
            finished = time.monotonic()
            before = asyncio.run(freeradius.count_radacct(admin_url, database))
            time.sleep(1.0)
            if asyncio.run(freeradius.count_radacct(admin_url, database)) == before:
                return finished
            continue
        time.sleep(0.2)
    return None


def bench_service(
    ps: PacketSet,
    work: Path,
    admin_url: str,
    bootstrap: str,
    window: int,
    workers: int,
    track: bool,
    broker_pidfiles: list[Path],
    environment: dict[str, str],
    warmup: PacketSet | None,
    rate: float | None,
) -> dict[str, Any]:
    database = f"radius_ingest_bench_{secrets.token_hex(4)}"
    prefix = f"bench{secrets.token_hex(3)}."
    asyncio.run(_create_database(admin_url, database))
    clients = work / "clients.toml"
    clients.write_text("".join(
        f'[[nas_client]]\ntenant_id = "bench"\nnas_id = "{n.identifier}"\naddress = "{n.source_ip}"\n'
        f'secret = "{n.secret.decode()}"\n\n' for n in ps.nas
    ))  # fmt: skip
    port = free_port()
    env = (
        os.environ
        | {
            "DATABASE_URL": admin_url.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
            + f"/{database}",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC_PREFIX": prefix,
            "HTTP_PORT": str(free_port(socket.SOCK_STREAM)),
            "RADIUS_HOST": "127.0.0.1",
            "RADIUS_PORT": str(port),
            "RADIUS_WORKERS": str(workers),
            "NAS_CLIENTS_FILE": str(clients),
            "TRACK_SESSIONS": "true" if track else "false",
            "LOG_LEVEL": "WARNING",
            "ENVIRONMENT": "local",  # a bench run may use the default JWT secret
        }
        | environment
    )
    log = (work / "service.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "radius_ingest"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_status(port, ps)
        _wait_settled(process.pid)
        if warmup is not None:
            # Other sessions first, unmeasured: a fresh broker JVM (and the service's processes) would otherwise
            # bill their JIT compilation and first allocations to the measured requests.
            warm = loadgen.run(warmup, "127.0.0.1", port, window=window)
            print(f"  warm-up: {warm.answered:,} requests at {warm.rps:,.0f}/s, {warm.lost} lost", flush=True)
            _wait_settled(process.pid, broker_pidfiles)
        start = asyncio.run(end_offsets(bootstrap, f"{prefix}bss.radius.session"))
        attribution = cpu.Attribution(lambda: _service_processes(process.pid, database, broker_pidfiles))
        attribution.start()
        time.sleep(IDLE_SECONDS)
        idle = attribution.finish(1)["cpu_seconds"]
        attribution.start()
        stats = loadgen.run(ps, "127.0.0.1", port, window=window, rate=rate)
        breakdown = attribution.finish(stats.answered)
        seconds: dict[str, float] = breakdown["cpu_seconds"]  # type: ignore[assignment]
        cpu_seconds = round(sum(v for k, v in seconds.items() if k.startswith("radius-ingest")), 2)
        on_kafka = asyncio.run(count_events(bootstrap, f"{prefix}bss.radius.session", stats.answered, start))
        on_kafka |= asyncio.run(replication_of(bootstrap, f"{prefix}bss.radius.session"))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        asyncio.run(delete_topics(bootstrap, prefix))
        asyncio.run(freeradius.drop_database(admin_url, database))
    idle_per_second = {k: round(v / IDLE_SECONDS, 4) for k, v in idle.items()}  # type: ignore[attr-defined]
    return {"stats": dataclasses.asdict(stats), "server_cpu_seconds": cpu_seconds, "kafka": on_kafka,
            "idle_cpu_per_second": idle_per_second,
            "workers": workers, "session_tracker": track, "cpu": breakdown}  # fmt: skip


def _freeradius_processes(pid: int, database: str) -> dict[str, list[int]]:
    ours = cpu.postgres_pids(database)
    broker = cpu.kafka_pid()
    return {
        "FreeRADIUS": [pid],
        "PostgreSQL backends of the radacct database": ours,
        "PostgreSQL other processes": [p for p in cpu.postgres_pids() if p not in ours],
        "Kafka broker JVM (not used here)": [broker] if broker else [],
    }


def _service_processes(parent: int, database: str, broker_pidfiles: Sequence[Path]) -> dict[str, list[int]]:
    """The service's processes by role (named by the service, see /proc/PID/comm), the brokers and PostgreSQL."""
    kids = cpu.children(parent)
    brokers = [pid for pid in map(cpu.kafka_pid, broker_pidfiles) if pid]
    ours = cpu.postgres_pids(database)
    return {
        "radius-ingest parent (API, relay)": [parent] + [k for k in kids if not cpu.name_of(k).startswith("radius-")],
        "radius-ingest UDP workers": [k for k in kids if cpu.name_of(k).startswith("radius-udp")],
        "radius-ingest session tracker": [k for k in kids if cpu.name_of(k).startswith("radius-tracker")],
        "Kafka broker JVM": brokers,
        "PostgreSQL backends of the service database": ours,
        "PostgreSQL other processes": [p for p in cpu.postgres_pids() if p not in ours],
    }


def _wait_settled(parent: int, broker_pidfiles: Sequence[Path] = (), timeout: float = 60.0) -> None:
    """Until the service's processes (and the broker) are done starting (imports, consumer group joins) or
    catching up after the warm-up: under 5 % of a core over half a second. Otherwise that work is billed to
    the measured requests."""
    deadline = time.monotonic() + timeout
    brokers = [pid for pid in map(cpu.kafka_pid, broker_pidfiles) if pid]

    def total() -> float:
        pids = [parent, *cpu.children(parent), *brokers]
        return float(sum(cpu.cpu_of(pid) for pid in pids))

    before = total()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = total()
        if now - before < 0.025:
            return
        before = now


def _wait_status(port: int, ps: PacketSet) -> None:
    """Status-Server (RFC 5997) from the first NAS's address until the server answers."""
    deadline = time.monotonic() + 120
    import hashlib
    import hmac

    nas = ps.nas[0]
    header = bytes((12, 1, 0, 38))
    authenticator = secrets.token_bytes(16)
    unsigned = header + authenticator + bytes((80, 18)) + bytes(16)
    packet = header + authenticator + bytes((80, 18)) + hmac.new(nas.secret, unsigned, hashlib.md5).digest()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((nas.source_ip, 0))
        sock.settimeout(0.5)
        while time.monotonic() < deadline:
            sock.sendto(packet, ("127.0.0.1", port))
            try:
                sock.recv(4096)
                return
            except TimeoutError:
                continue
    raise RuntimeError(f"no Status-Server answer on UDP {port}")


async def _create_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


SETUPS = {  # results key -> (title, FreeRADIUS setup or None for radius-ingest)
    "freeradius": ("FreeRADIUS 3.2 + rlm_sql", freeradius.SQL),
    "freeradius_detail": ("FreeRADIUS 3.2 detail + buffered-sql", freeradius.DETAIL),
    "radius_ingest": ("radius-ingest -> Kafka", None),
}
# Groups of a breakdown that are not the setup's own work: the generator, other people's work on the machine
# (other databases' backends, the shared broker when it is not the one used) and what no process accounts for.
NOT_OWN = ("load generator", "PostgreSQL other processes", "not used here", "other (not attributed)")


def own_us_per_request(breakdown: dict[str, Any], requests: int) -> float | None:
    """CPU per answered request of the setup's own processes (server, its database backends, the broker used)
    and of the kernel's softirq: what the machine spends on it when nothing else runs."""
    if not requests:
        return None
    seconds = breakdown["cpu_seconds"]
    own = sum(v for k, v in seconds.items() if not any(k.startswith(n) or n in k for n in NOT_OWN))
    return round(own * 1e6 / requests, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--nas", type=int, default=20)
    parser.add_argument("--window", type=int, default=32, help="requests in flight per NAS")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-tracker", action="store_true", help="run the service without its session tracker")
    parser.add_argument("--only", choices=tuple(SETUPS), action="append", help="run only these (repeatable)")
    parser.add_argument(
        "--shared-broker",
        action="store_true",
        help="use the shared broker (KAFKA_BOOTSTRAP_SERVERS, 59092) instead of a private one",
    )
    parser.add_argument(
        "--brokers",
        type=int,
        default=1,
        help="nodes of the private Kafka cluster (3: topics with replication factor 3, min.insync.replicas 2)",
    )
    parser.add_argument(
        "--warmup", type=int, default=20_000, help="requests of other sessions sent to radius-ingest before measuring"
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="requests/s, paced (open loop within the window); default: closed loop"
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for buffered-sql")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for radius-ingest and the private broker's kafka.sh (repeatable)",
    )
    args = parser.parse_args()
    admin_url = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    environment = dict(item.split("=", 1) for item in args.env)
    chosen = args.only or list(SETUPS)
    warmup = build(args.warmup, nas_count=args.nas, seed=8) if args.warmup else None

    ps = build(args.packets, nas_count=args.nas)
    print(
        f"packet set: {ps.total} requests {ps.kinds}, {ps.sessions} sessions on {len(ps.nas)} NAS, "
        f"{ps.gigaword_sessions} sessions past 4 GiB",
        flush=True,
    )
    results: dict[str, Any] = {
        "load_average_before": os.getloadavg(),
        "packets": ps.total,
        "kinds": ps.kinds,
        "sessions": ps.sessions,
        "nas": len(ps.nas),
        "window_per_nas": args.window,
        "cpus": os.cpu_count(),
        "environment": environment,
        "warmup": args.warmup,
    }
    with tempfile.TemporaryDirectory(prefix="radius-bench-") as tmp:
        work = Path(tmp)
        for key, (title, setup) in SETUPS.items():
            if key not in chosen:
                continue
            print(f"running {title} ...", flush=True)
            if setup is not None:
                results[key] = bench_freeradius(ps, work, admin_url, args.window, setup, args.drain_timeout, args.rate)
                continue
            broker = None if args.shared_broker else PrivateBroker(environment, brokers=args.brokers)
            try:
                if broker is None:
                    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
                    pidfiles = [cpu.KAFKA_PIDFILE]
                else:
                    broker.start()
                    bootstrap, pidfiles = broker.bootstrap, broker.pidfiles
                    results["private_broker"] = broker.properties
                results[key] = bench_service(
                    ps,
                    work,
                    admin_url,
                    bootstrap,
                    args.window,
                    args.workers,
                    not args.no_tracker,
                    pidfiles,
                    environment,
                    warmup,
                    args.rate,
                )
                results[key]["broker"] = "shared" if broker is None else f"private, {args.brokers} node(s)"
            finally:
                if broker is not None:
                    broker.stop()
    for key in SETUPS:
        if key in results:
            results[key]["own_us_per_request"] = own_us_per_request(
                results[key]["cpu"], results[key]["stats"]["answered"]
            )
    if "radius_ingest" in results:
        ours = results["radius_ingest"]
        results["ratios"] = {}
        for key in ("freeradius", "freeradius_detail"):
            if key in results:
                theirs = results[key]
                results["ratios"][key] = {
                    "rps": _ratio(ours["stats"]["rps"], theirs["stats"]["rps"]),
                    # < 1: radius-ingest spends less CPU per answered request
                    "own_cpu_per_request": _ratio(ours["own_us_per_request"], theirs["own_us_per_request"]),
                    "machine_cpu_per_request": _ratio(
                        ours["cpu"]["machine_us_per_request"], theirs["cpu"]["machine_us_per_request"]
                    ),
                }
    results["load_average_after"] = os.getloadavg()
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def print_table(results: dict[str, Any]) -> None:
    rows = []
    for key, (title, _) in SETUPS.items():
        if key not in results:
            continue
        r = results[key]
        s = r["stats"]
        rows.append(
            (
                title,
                f"{s['rps']:,.0f}",
                f"{s['p50_ms']:.1f}",
                f"{s['p99_ms']:.1f}",
                str(s["lost"]),
                f"{r['server_cpu_seconds']:.1f}",
                f"{r['own_us_per_request']:.1f}",
                f"{r['cpu']['machine_us_per_request']:.1f}",
                f"{s['generator_cpu_share'] * 100:.0f}%",
            )
        )
    header = (
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "lost",
        "server CPU s",
        "own us/req",
        "machine us/req",
        "generator CPU",
    )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print("  own us/req: the setup's processes (server, its database backends, the broker it uses) and softirq;")
    print("  machine us/req: everything busy on the machine during the run, other people's work included")
    for key, ratio in results.get("ratios", {}).items():
        print(
            f"ratio radius-ingest / {SETUPS[key][0]}: {ratio['rps']}x req/s, "
            f"{ratio['own_cpu_per_request']}x own CPU per request, "
            f"{ratio['machine_cpu_per_request']}x machine CPU per request"
        )
    if "radius_ingest" in results:
        k = results["radius_ingest"]["kafka"]
        print(
            f"session events on Kafka ({results['radius_ingest']['broker']} broker, acks=all, replication factor "
            f"{k['replication_factor']}, min.insync.replicas {k['min_insync_replicas']}): "
            f"{k['distinct_event_ids']:,} distinct of {results['packets']:,} requests "
            f"({k['records']:,} records)"
        )
    for key in ("freeradius", "freeradius_detail"):
        if key in results:
            print(f"radacct rows after {SETUPS[key][0]}: {results[key]['radacct']}")
    if "freeradius_detail" in results:
        d = results["freeradius_detail"]["drain"]
        answered = results["freeradius_detail"]["stats"]["answered"]
        own = own_us_per_request(d["cpu"], answered)
        state = "drained" if d["drained"] else "NOT drained (timeout)"
        print(
            f"buffered-sql: detail file {state} {d['seconds_after_last_reply']} s after the last reply; "
            f"queryable at {d['queryable_rps'] or 0:,.0f} req/s from the first request; load + drain: "
            f"own {own} us/req, machine {d['cpu']['machine_us_per_request']} us/req"
        )
    for key, (title, _) in SETUPS.items():
        if key in results:
            cpu.print_breakdown(f"the {title} run", results[key]["cpu"])
    if "freeradius_detail" in results:
        cpu.print_breakdown(
            "the detail + buffered-sql run, load and drain", results["freeradius_detail"]["drain"]["cpu"]
        )
    if "radius_ingest" in results:
        idle = results["radius_ingest"]["idle_cpu_per_second"]
        busy = {k: v for k, v in idle.items() if v >= 0.005 and not any(n in k for n in NOT_OWN)}
        print(
            "  radius-ingest's run, with no traffic (5 s before the load), CPU per second: "
            + ", ".join(f"{k} {v:.3f}" for k, v in busy.items())
        )
    print(f"load average before: {results['load_average_before']}, after: {results['load_average_after']}")


if __name__ == "__main__":
    main()
