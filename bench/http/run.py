"""The HTTP write path: `POST /customers`, `POST /billing/invoices` (issued at once) and `POST /billing/payments`
through the gateway with 32 concurrent clients, and, in the same run, the limit: a minimal FastAPI endpoint on the
same runtime doing the same inserts (customer row + outbox row) with asyncpg (`limit_app.py`).

    bench/http/run.sh [--seconds 15] [--warmup 3] [--clients 32] [--only customers invoices payments limit]

The whole system runs privately (`bss_testkit.system.local_stack`: its own PostgreSQL, Kafka, five services and
nginx gateway, started by deploy/local's scripts exactly as `make up` starts them), so the connections and CPU
counted are this run's only. The gateway's per-client rate limit is lifted for the run (one client address).

For each endpoint: requests/s (2xx answers / the measured seconds), p50 / p99 latency, every status seen, the
CPU seconds and microseconds per request of each process (the service's process group, the gateway, the
PostgreSQL backends of its database, PostgreSQL's other processes, the Kafka broker, the other services, the load
generator, and the machine's busy time from /proc/stat), and the PostgreSQL sessions opened on its database
during the measured seconds (pg_stat_database.sessions: a pool without churn opens none). Checks: every 201 is
one row in the owner's table and one outbox row (and no row without an answer); invoice numbers are gapless.
Prints a table and writes bench/results/http.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.migrations import upgrade
from bss_runtime.settings import ServiceSettings
from bss_testkit.system import Stack, free_port, local_stack

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "http.json"
TENANT = "bench-http"
TICK = os.sysconf("SC_CLK_TCK")
GOAL = {"requests_per_s": 1000.0, "p99_ms": 100.0, "ratio_to_limit": 0.5}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- load generator


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)  # the 2xx answers' bodies (ids for the checks)
    errors: list[str] = field(default_factory=list)


async def client(
    port: int, path: str, body_of: Callable[[int], bytes], token: str, until: float, record_after: float, out: Phase
) -> None:
    """One keep-alive HTTP/1.1 connection sending `POST path` back to back; records what was sent after
    `record_after` (the warm-up before it is not counted)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    try:
        while time.perf_counter() < until:
            body = body_of(n)
            n += 1
            head = (
                f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            done = time.perf_counter()
            if started < record_after:
                continue
            status = int(status_line.split()[1])
            out.statuses[status] = out.statuses.get(status, 0) + 1
            out.latencies_ms.append((done - started) * 1000)
            if 200 <= status < 300:
                out.bodies.append(answer)
            elif len(out.errors) < 5:
                out.errors.append(answer[:300].decode(errors="replace"))
    finally:
        writer.close()


async def load(
    port: int, path: str, body_of: Callable[[int, int], bytes], token: str, clients: int, warmup: float, seconds: float
) -> tuple[Phase, float, float]:
    """`clients` connections for warmup + seconds; returns what was recorded and the measured window."""
    out = Phase()
    start = time.perf_counter()
    record_after, until = start + warmup, start + warmup + seconds
    await asyncio.gather(
        *(client(port, path, lambda n, c=c: body_of(c, n), token, until, record_after, out) for c in range(clients))
    )
    return out, record_after, time.perf_counter()


# ---------------------------------------------------------------- CPU per process


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Processes:
    """Names every process of the private stack (and the limit app) by what it is."""

    def __init__(self, stack: Stack, limit_pgid: int | None) -> None:
        state = stack.state
        self.groups = {s: _pid_file(state / f"services/{s}.pid") for s in ("customers", "billing")}
        self.others = {s: _pid_file(state / f"services/{s}.pid") for s in ("dunning", "reporting", "radius-ingest")}
        self.nginx = _pid_file(state / "services/nginx.pid")
        self.kafka = _pid_file(state / "kafka/kafka.pid")
        self.postmaster = _pid_file(state / "postgres/data/postmaster.pid")
        self.limit = limit_pgid

    def name(self, pid: int, fields: list[str]) -> str | None:
        ppid, pgrp = int(fields[1]), int(fields[2])
        for service, group in self.groups.items():
            if pgrp == group:
                return service
        if pgrp == self.limit:
            return "limit app"
        if pgrp in self.others.values():
            return "other services"
        if pid == self.nginx or ppid == self.nginx:
            return "gateway (nginx)"
        if pid == self.kafka:
            return "kafka"
        if pid == self.postmaster:
            return "postgres (other)"
        if ppid == self.postmaster:
            cmd = _cmdline(pid)
            for db in ("customers", "billing", "httplimit"):
                if f" {db} 127.0.0.1" in cmd:
                    return f"postgres ({db})"
            return "postgres (other)"
        return None

    def snapshot(self) -> dict[int, tuple[str, float]]:
        out = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            fields = _stat(pid)
            if fields is None:
                continue
            name = self.name(pid, fields)
            if name is not None:
                out[pid] = (name, (int(fields[11]) + int(fields[12])) / TICK)
        return out


def machine_busy() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICK  # all but idle and iowait


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per name between two snapshots (a process born in between counts whole; one that exited in
    between is lost: a pool that churns connections hides its backends' CPU here, not in `machine busy`)."""
    out: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        out[name] = out.get(name, 0.0) + cpu - (before[pid][1] if pid in before else 0.0)
    return out


# ---------------------------------------------------------------- the run


def customer_body(c: int, n: int) -> bytes:
    return json.dumps(
        {
            "name": f"Bench Customer {c}-{n}",
            "email": f"c{c}-{n}@bench.example",
            "billing_country": "DE",
            "service_city": "Berlin",
            "tags": ["bench"],
        }
    ).encode()


async def sessions_opened(admin: asyncpg.Connection, database: str) -> int:
    await admin.execute("SELECT pg_stat_clear_snapshot()")
    return int(await admin.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = $1", database))


async def measure(
    stack: Stack,
    processes: Processes,
    admin: asyncpg.Connection,
    name: str,
    port: int,
    path: str,
    body_of: Callable[[int, int], bytes],
    token: str,
    args: argparse.Namespace,
    database: str,
) -> dict[str, Any]:
    log(f"{name}: {args.clients} clients, {args.warmup:g} s warm-up + {args.seconds:g} s")

    # The snapshots are taken at the edges of the measured window, by a task beside the load.
    marks: dict[str, Any] = {}

    async def sample() -> None:
        await asyncio.sleep(args.warmup)
        marks["before"] = (processes.snapshot(), machine_busy(), self_cpu(), await sessions_opened(admin, database))
        await asyncio.sleep(args.seconds)
        marks["after"] = (processes.snapshot(), machine_busy(), self_cpu(), await sessions_opened(admin, database))

    sampler = asyncio.create_task(sample())
    phase, t0, t1 = await load(port, path, body_of, token, args.clients, args.warmup, args.seconds)
    await sampler
    (p0, m0, s0, c0), (p1, m1, s1, c1) = marks["before"], marks["after"]
    ok = sum(v for k, v in phase.statuses.items() if 200 <= k < 300)
    wall = t1 - t0
    cpu = cpu_delta(p0, p1) | {"load generator": s1 - s0, "machine busy": m1 - m0}
    ordered = sorted(phase.latencies_ms)
    result = {
        "endpoint": name,
        "requests": len(ordered),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(phase.statuses.items())},
        "errors": phase.errors,
        "seconds": round(wall, 2),
        "requests_per_s": round(ok / wall, 1),
        "p50_ms": round(statistics.median(ordered), 1) if ordered else None,
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 1) if ordered else None,
        "connections_opened": c1 - c0,
        "cpu_s": {k: round(v, 2) for k, v in sorted(cpu.items())},
        "cpu_us_per_request": {k: round(v / max(ok, 1) * 1e6, 1) for k, v in sorted(cpu.items())},
    }
    result["_bodies"] = phase.bodies
    log(
        f"{name}: {result['requests_per_s']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
        f"statuses {result['statuses']}, {result['connections_opened']} connections opened"
    )
    return result


async def count(url: str, sql: str, *params: Any) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql, *params))
    finally:
        await conn.close()


async def owned(url: str, ids: list[str]) -> dict[str, int]:
    """Every customer answered 201 is one row and one CustomerCreated outbox row (keyed by its id)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetchval("SELECT count(*) FROM customers WHERE tenant_id = $1 AND id = ANY($2)", TENANT, ids)
        events = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND key = ANY($2) AND event_type = $3",
            TENANT, ids, "bss.customers.customer.created",
        )  # fmt: skip
    finally:
        await conn.close()
    out = {"answered_201": len(ids), "rows": int(rows), "outbox_rows": int(events)}
    assert out["rows"] == out["outbox_rows"] == len(ids), out
    return out


async def wait_billing_knows(port: int, token: str, customer_ids: Iterable[str]) -> None:
    """Billing learns customers from CustomerCreated on Kafka: wait until it accepts a draft for each."""
    deadline = time.monotonic() + 120
    pending = list(customer_ids)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while pending:
            body = json.dumps({"customer_id": pending[0], "currency": "EUR"}).encode()
            writer.write(
                f"POST /billing/invoices HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                key, _, value = line.partition(b":")
                if key.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if status == 201:
                pending.pop(0)
            elif time.monotonic() > deadline:
                raise RuntimeError(f"billing does not know customer {pending[0]} after 120 s (status {status})")
            else:
                await asyncio.sleep(0.2)
    finally:
        writer.close()


async def start_limit(stack: Stack, workers: int, pool_size: int) -> tuple[subprocess.Popen[bytes], int, str]:
    url = stack.pg_url("httplimit")
    admin = await asyncpg.connect(stack.pg_url("postgres"))
    try:
        await admin.execute("CREATE DATABASE httplimit")
    finally:
        await admin.close()
    migrations = ROOT / "services/customers/migrations"
    await asyncio.to_thread(upgrade, url.replace("postgresql://", "postgresql+asyncpg://"), migrations)
    port = free_port()
    env = os.environ | {"LIMIT_DATABASE_URL": url, "LIMIT_POOL_SIZE": str(pool_size), "LIMIT_TENANT": TENANT}
    process = subprocess.Popen(  # noqa: ASYNC220  (started once, before the load)
        [sys.executable, "-m", "uvicorn", "limit_app:app", "--app-dir", str(Path(__file__).parent),
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
         "--log-level", "warning"],
        env=env, start_new_session=True,
    )  # fmt: skip
    for _ in range(1200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return process, port, url
        except OSError:
            await asyncio.sleep(0.1)
    os.killpg(process.pid, signal.SIGTERM)
    raise RuntimeError("the limit app did not start in 120 s")


def stack_setting(stack: Stack, service: str, name: str, default: str) -> str:
    """A setting services.sh gave a running service (its environment)."""
    pid = _pid_file(stack.state / f"services/{service}.pid")
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return default
    for item in environ:
        key, _, value = item.partition(b"=")
        if key.decode() == name:
            return value.decode()
    return default


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| endpoint | req/s | p50 ms | p99 ms | statuses | connections opened |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        rows.append(
            f"| {r['endpoint']} | {r['requests_per_s']:,} | {r['p50_ms']} | {r['p99_ms']} | "
            f"{', '.join(f'{k}: {v:,}' for k, v in r['statuses'].items())} | {r['connections_opened']} |"
        )
    names = sorted({k for r in results for k in r["cpu_us_per_request"]})
    rows += ["", "CPU µs per request:", "", "| process | " + " | ".join(r["endpoint"] for r in results) + " |",
             "| --- |" + " ---: |" * len(results)]  # fmt: skip
    for n in names:
        rows.append(f"| {n} | " + " | ".join(f"{r['cpu_us_per_request'].get(n, 0.0):,.0f}" for r in results) + " |")
    return "\n".join(rows)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    # One client address sends everything: the gateway's per-client limit would answer 429 above 500 r/s.
    os.environ["GATEWAY_RATE_LIMIT"] = "1000000r/s"
    os.environ["GATEWAY_RATE_BURST"] = "100000"
    log(f"starting a private stack (load average {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f})")
    results: list[dict[str, Any]] = []
    checks: dict[str, Any] = {}
    limit: subprocess.Popen[bytes] | None = None
    async with local_stack() as stack:
        gateway = int(stack.env["GATEWAY_PORT"])
        token = issue_token(JwtConfig(ServiceSettings().jwt_secret), subject="bench", tenant_id=TENANT, roles=["admin"])
        workers = int(stack_setting(stack, "customers", "HTTP_WORKERS", "1"))
        pool = int(stack_setting(stack, "customers", "DB_POOL_SIZE", "10"))
        if "limit" in args.only:
            limit, limit_port, limit_url = await start_limit(stack, workers, pool)
        processes = Processes(stack, limit.pid if limit else None)
        admin = await asyncpg.connect(stack.pg_url("postgres"))
        customers_url, billing_url = stack.pg_url("customers"), stack.pg_url("billing")
        try:
            customer_ids: list[str] = []
            if "customers" in args.only or {"invoices", "payments"} & set(args.only):
                r = await measure(
                    stack, processes, admin, "POST /customers", gateway, "/customers", customer_body, token, args,
                    "customers",
                )  # fmt: skip
                bodies = r.pop("_bodies")
                customer_ids = [json.loads(b)["customer_id"] for b in bodies]
                results.append(r)
                checks["customers"] = await owned(customers_url, customer_ids)
            if {"invoices", "payments"} & set(args.only):
                mine = customer_ids[: args.clients]
                log("waiting until billing has the customers (CustomerCreated through Kafka)")
                await wait_billing_knows(gateway, token, mine)

                def invoice_body(c: int, n: int) -> bytes:
                    line = {"description": "Monthly service", "unit_price_minor": 2500, "tax_rate_bp": 1900}
                    return json.dumps(
                        {"customer_id": mine[c], "currency": "EUR", "lines": [line], "issue": True}
                    ).encode()

                def payment_body(c: int, n: int) -> bytes:
                    return json.dumps({"customer_id": mine[c], "currency": "EUR", "amount_minor": 1000}).encode()

                for name, path, body_of in (
                    ("POST /billing/invoices", "/billing/invoices", invoice_body),
                    ("POST /billing/payments", "/billing/payments", payment_body),
                ):
                    if name.split("/")[-1] not in args.only:
                        continue
                    r = await measure(stack, processes, admin, name, gateway, path, body_of, token, args, "billing")
                    ids = [json.loads(b)["id"] for b in r.pop("_bodies")]
                    table_name = "invoices" if "invoices" in path else "payments"
                    found = await count(
                        billing_url, f"SELECT count(*) FROM {table_name} WHERE tenant_id = $1 AND id = ANY($2)",
                        TENANT, ids,
                    )  # fmt: skip
                    checks[table_name] = {"recorded_ids": len(ids), "recorded_ids_found": found}
                    assert found == len(ids), checks[table_name]
                    results.append(r)
                numbers = await count(
                    billing_url,
                    "SELECT count(*) FILTER (WHERE number IS NOT NULL) - count(DISTINCT number) FROM invoices "
                    "WHERE tenant_id = $1",
                    TENANT,
                )
                issued = await count(
                    billing_url, "SELECT count(*) FROM invoices WHERE tenant_id = $1 AND number IS NOT NULL", TENANT
                )
                checks["invoice_numbers"] = {"issued": issued, "duplicates": numbers}
                assert numbers == 0, checks["invoice_numbers"]
            if limit is not None:
                r = await measure(
                    stack, processes, admin, "limit: FastAPI + asyncpg", limit_port, "/customers", customer_body,
                    token, args, "httplimit",
                )  # fmt: skip
                ids = [json.loads(b)["customer_id"] for b in r.pop("_bodies")]
                checks["limit"] = await owned(limit_url, ids)
                results.append(r)
            published = await count(customers_url, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
            checks["customers_outbox_unpublished_at_end"] = published
        finally:
            await admin.close()
            if limit is not None:
                os.killpg(limit.pid, 15)
                limit.wait(timeout=30)
    load_after = os.getloadavg()
    by = {r["endpoint"]: r for r in results}
    summary: dict[str, Any] = {}
    if "POST /customers" in by:
        c = by["POST /customers"]
        summary = {"requests_per_s": c["requests_per_s"], "p99_ms": c["p99_ms"],
                   "connections_opened": c["connections_opened"]}  # fmt: skip
        if "limit: FastAPI + asyncpg" in by:
            summary["limit_requests_per_s"] = by["limit: FastAPI + asyncpg"]["requests_per_s"]
            summary["ratio_to_limit"] = round(c["requests_per_s"] / summary["limit_requests_per_s"], 2)
    return {
        "benchmark": "http",
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "customers_http_workers": workers,
        "customers_db_pool_size": pool,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "goal": GOAL,
        "customers": summary,
        "results": results,
        "checks": checks,
    }


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--only", nargs="+", default=["customers", "invoices", "payments", "limit"])
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupted)  # a killed run still stops its private stack
    report = asyncio.run(run(args))
    print()
    print(table(report["results"]))
    print()
    print(f"checks: {json.dumps(report['checks'])}")
    print(f"load average before {report['load_average_before']}, after {report['load_average_after']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
