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
from pathlib import Path
from typing import Any

import cpu
import freeradius
import loadgen
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from packets import PacketSet, build

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "radius.json"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def count_events(bootstrap: str, topic: str, expected: int, timeout: float = 120) -> dict[str, int]:
    """Read the session topic back: how many records, how many distinct event ids."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    ids: set[str] = set()
    records = 0
    deadline = time.monotonic() + timeout
    try:
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


def bench_freeradius(ps: PacketSet, work: Path, admin_url: str, window: int) -> dict[str, Any]:
    database = f"radius_bench_{secrets.token_hex(4)}"
    asyncio.run(freeradius.create_radius_database(admin_url, database))
    port = free_port()
    raddb = work / "raddb"
    freeradius.write_config(raddb, port=port, nas=ps.nas, db_url=admin_url, database=database)
    server = freeradius.FreeRadius(raddb)
    try:
        server.check()
        server.start()
        _wait_status(port, ps)
        pid = server.process.pid if server.process else 0
        attribution = cpu.Attribution(lambda: _freeradius_processes(pid, database))
        attribution.start()
        stats = loadgen.run(ps, "127.0.0.1", port, window=window)
        breakdown = attribution.finish(stats.answered)
        cpu_seconds = breakdown["cpu_seconds"]["FreeRADIUS"]  # type: ignore[index]
        stored = asyncio.run(freeradius.count_radacct(admin_url, database))
    finally:
        server.stop()
        asyncio.run(freeradius.drop_database(admin_url, database))
    return {"stats": dataclasses.asdict(stats), "server_cpu_seconds": cpu_seconds, "radacct": stored,
            "cpu": breakdown}  # fmt: skip


def bench_service(
    ps: PacketSet, work: Path, admin_url: str, bootstrap: str, window: int, workers: int, track: bool
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
    env = os.environ | {
        "DATABASE_URL": admin_url.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{database}",
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
    log = (work / "service.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "radius_ingest"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_status(port, ps)
        _wait_settled(process.pid)
        attribution = cpu.Attribution(lambda: _service_processes(process.pid, database))
        attribution.start()
        stats = loadgen.run(ps, "127.0.0.1", port, window=window)
        breakdown = attribution.finish(stats.answered)
        seconds: dict[str, float] = breakdown["cpu_seconds"]  # type: ignore[assignment]
        cpu_seconds = round(sum(v for k, v in seconds.items() if k.startswith("radius-ingest")), 2)
        on_kafka = asyncio.run(count_events(bootstrap, f"{prefix}bss.radius.session", stats.answered))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        asyncio.run(delete_topics(bootstrap, prefix))
        asyncio.run(freeradius.drop_database(admin_url, database))
    return {"stats": dataclasses.asdict(stats), "server_cpu_seconds": cpu_seconds, "kafka": on_kafka,
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


def _service_processes(parent: int, database: str) -> dict[str, list[int]]:
    """The service's processes by role (named by the service, see /proc/PID/comm), the broker and PostgreSQL."""
    kids = cpu.children(parent)
    broker = cpu.kafka_pid()
    ours = cpu.postgres_pids(database)
    return {
        "radius-ingest parent (API, relay)": [parent] + [k for k in kids if not cpu.name_of(k).startswith("radius-")],
        "radius-ingest UDP workers": [k for k in kids if cpu.name_of(k).startswith("radius-udp")],
        "radius-ingest session tracker": [k for k in kids if cpu.name_of(k).startswith("radius-tracker")],
        "Kafka broker JVM": [broker] if broker else [],
        "PostgreSQL backends of the service database": ours,
        "PostgreSQL other processes": [p for p in cpu.postgres_pids() if p not in ours],
    }


def _wait_settled(parent: int, timeout: float = 60.0) -> None:
    """Until the service's processes are done starting (imports, consumer group joins): under 5 % of a core
    over half a second. Otherwise a child still starting up is billed to the requests."""
    deadline = time.monotonic() + timeout

    def total() -> float:
        return float(cpu.cpu_of(parent) + sum(cpu.cpu_of(child) for child in cpu.children(parent)))

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--nas", type=int, default=20)
    parser.add_argument("--window", type=int, default=32, help="requests in flight per NAS")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-tracker", action="store_true", help="run the service without its session tracker")
    parser.add_argument("--only", choices=("freeradius", "service"), default=None)
    args = parser.parse_args()
    admin_url = os.environ.get("PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")

    ps = build(args.packets, nas_count=args.nas)
    print(f"packet set: {ps.total} requests {ps.kinds}, {ps.sessions} sessions on {len(ps.nas)} NAS, "
          f"{ps.gigaword_sessions} sessions past 4 GiB", flush=True)  # fmt: skip
    results: dict[str, Any] = {"load_average_before": os.getloadavg(), "packets": ps.total,
                                "kinds": ps.kinds, "sessions": ps.sessions, "nas": len(ps.nas),
                               "window_per_nas": args.window, "cpus": os.cpu_count()}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="radius-bench-") as tmp:
        work = Path(tmp)
        if args.only in (None, "freeradius"):
            print("running FreeRADIUS 3.2 + rlm_sql (PostgreSQL radacct) ...", flush=True)
            results["freeradius"] = bench_freeradius(ps, work, admin_url, args.window)
        if args.only in (None, "service"):
            print("running radius-ingest -> Kafka ...", flush=True)
            results["radius_ingest"] = bench_service(
                ps, work, admin_url, bootstrap, args.window, args.workers, not args.no_tracker
            )
    if "freeradius" in results and "radius_ingest" in results:
        base = results["freeradius"]["stats"]["rps"]
        results["ratio"] = round(results["radius_ingest"]["stats"]["rps"] / base, 2) if base else None
    results["load_average_after"] = os.getloadavg()
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def print_table(results: dict[str, Any]) -> None:
    rows = []
    for key, title in (("freeradius", "FreeRADIUS 3.2 + rlm_sql"), ("radius_ingest", "radius-ingest -> Kafka")):
        if key not in results:
            continue
        r = results[key]
        s = r["stats"]
        rows.append((title, f"{s['rps']:,.0f}", f"{s['p50_ms']:.1f}", f"{s['p99_ms']:.1f}", str(s["lost"]),
                     f"{r['server_cpu_seconds']:.1f}", f"{s['generator_cpu_share'] * 100:.0f}%"))  # fmt: skip
    header = ("server", "req/s", "p50 ms", "p99 ms", "lost", "server CPU s", "generator CPU")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    if results.get("ratio") is not None:
        print(f"ratio radius-ingest / FreeRADIUS: {results['ratio']}x")
    if "radius_ingest" in results:
        k = results["radius_ingest"]["kafka"]
        print(f"session events on Kafka: {k['distinct_event_ids']:,} distinct of {results['packets']:,} requests "
              f"({k['records']:,} records)")  # fmt: skip
    if "freeradius" in results:
        print(f"radacct rows: {results['freeradius']['radacct']}")
    for key, title in (("freeradius", "the FreeRADIUS run"), ("radius_ingest", "the radius-ingest run")):
        if key in results:
            cpu.print_breakdown(title, results[key]["cpu"])
    print(f"load average before: {results['load_average_before']}, after: {results['load_average_after']}")


if __name__ == "__main__":
    main()
