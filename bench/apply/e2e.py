"""From an Accounting-Request to its report row: radius-ingest and reporting running as in production.

- **Burst**: `burst` requests as fast as the load generator gets replies (bench/radius/loadgen.py, 20 NAS,
  closed loop); then how long after the last reply until reporting has applied every one of them (its
  processed-event records, written in the transaction that writes the rows the report reads).
- **Steady**: `rate` requests/s for `seconds`; reporting's applied count is sampled every 20 ms, and the
  latency of the k-th reply is the time until k events were applied (first in, first out: each partition is
  applied in order). p50/p99/max of that.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "radius"))
import loadgen  # noqa: E402
import packets  # noqa: E402

_spec = importlib.util.spec_from_file_location("radius_bench", ROOT / "bench" / "radius" / "run.py")
assert _spec is not None and _spec.loader is not None
radius_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(radius_bench)


async def _applied(conn: asyncpg.Connection) -> int:
    try:
        return int(await conn.fetchval("SELECT count(*) FROM readmodel.processed_events") or 0)
    except asyncpg.UndefinedTableError:
        return 0


async def _follow(url: str, stop: threading.Event, samples: list[tuple[float, int]]) -> None:
    conn = await asyncpg.connect(url)
    try:
        while not stop.is_set():
            samples.append((time.perf_counter(), await _applied(conn)))
            await asyncio.sleep(0.02)
        samples.append((time.perf_counter(), await _applied(conn)))
    finally:
        await conn.close()


def _drive(
    url: str, work: Any, expected_total: int, timeout: float
) -> tuple[Any, list[float], list[tuple[float, int]]]:
    """Run `work(reply_times)` (the load generator) in this thread while another samples the applied count;
    keep sampling until `expected_total` events are applied."""
    stop = threading.Event()
    samples: list[tuple[float, int]] = []
    follower = threading.Thread(target=lambda: asyncio.run(_follow(url, stop, samples)), daemon=True)
    follower.start()
    replies: list[float] = []
    stats = work(replies)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and (not samples or samples[-1][1] < expected_total):
        time.sleep(0.02)
    stop.set()
    follower.join(10)
    return stats, replies, samples


def _latencies(replies: list[float], samples: list[tuple[float, int]], base: int) -> list[float]:
    out = []
    j = 0
    for k, replied in enumerate(sorted(replies), start=1):
        while j < len(samples) and samples[j][1] - base < k:
            j += 1
        if j == len(samples):
            break
        out.append(max(0.0, samples[j][0] - replied))
    return sorted(out)


def _pct(values: list[float], q: float) -> float | None:
    return round(values[min(len(values) - 1, int(q * len(values)))], 3) if values else None


def _client(nas: packets.Nas) -> str:
    return (
        f'[[nas_client]]\ntenant_id = "bench"\nnas_id = "{nas.identifier}"\naddress = "{nas.source_ip}"\n'
        f'secret = "{nas.secret.decode()}"\n\n'
    )


def _start(module: str, env: dict[str, str], database: str) -> subprocess.Popen[bytes]:
    env = env | {
        "DATABASE_URL": database.replace("postgresql://", "postgresql+asyncpg://"),
        "HTTP_PORT": str(radius_bench.free_port(radius_bench.socket.SOCK_STREAM)),
    }
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-m", module], env=env, stderr=subprocess.DEVNULL)


def run(admin: str, bootstrap: str, *, burst: int, rate: int, seconds: int, timeout: float = 120) -> dict[str, Any]:
    run_id = secrets.token_hex(3)
    prefix = f"bench-e2e-{run_id}."
    names = {"radius": f"bench_e2e_radius_{run_id}", "reporting": f"bench_e2e_reporting_{run_id}"}
    for name in names.values():
        asyncio.run(radius_bench._create_database(admin, name))
    base = admin.rsplit("/", 1)[0]
    plain = {k: f"{base}/{v}" for k, v in names.items()}
    burst_set = packets.build(burst, seed=11)
    steady_set = packets.build(rate * seconds, seed=12)
    processes: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        clients = work / "clients.toml"
        clients.write_text("".join(_client(n) for n in burst_set.nas))
        port = radius_bench.free_port()
        common = os.environ | {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC_PREFIX": prefix,
            "LOG_LEVEL": "WARNING",
        }
        radius_env = {"RADIUS_HOST": "127.0.0.1", "RADIUS_PORT": str(port), "NAS_CLIENTS_FILE": str(clients)}
        processes.append(_start("radius_ingest", common | radius_env, plain["radius"]))
        processes.append(_start("reporting", common | {"BI_WORKER_ENABLED": "false"}, plain["reporting"]))
        radius_bench._wait_status(port, burst_set)
        for p in processes:
            radius_bench._wait_settled(p.pid)
        time.sleep(3)  # reporting joins its group once the topics exist

        stats, replies, samples = _drive(
            plain["reporting"],
            lambda r: loadgen.run(burst_set, "127.0.0.1", port, reply_times=r),
            burst_set.total,
            timeout,
        )
        last_reply = max(replies)
        visible = next((t for t, n in samples if n >= stats.answered), None)
        burst_result = {
            "requests": burst_set.total,
            "answered": stats.answered,
            "lost": stats.lost,
            "requests_per_second": stats.rps,
            "applied": samples[-1][1],
            "visible_after_last_reply_s": round(visible - last_reply, 3) if visible else None,
        }
        print(
            f"burst: {stats.answered:,} requests answered at {stats.rps:,.0f}/s; all applied by reporting "
            f"{burst_result['visible_after_last_reply_s']} s after the last reply (goal < 5 s)"
        )
        start_count = samples[-1][1]
        stats, replies, samples = _drive(
            plain["reporting"],
            lambda r: loadgen.run(steady_set, "127.0.0.1", port, rate=rate, window=64, reply_times=r),
            start_count + steady_set.total,
            timeout,
        )
        latencies = _latencies(replies, samples, start_count)
        steady_result = {
            "requests": steady_set.total,
            "answered": stats.answered,
            "lost": stats.lost,
            "requests_per_second": stats.rps,
            "applied": samples[-1][1] - start_count,
            "latency_s": {"p50": _pct(latencies, 0.5), "p99": _pct(latencies, 0.99), "max": _pct(latencies, 1.0)},
        }
        print(
            f"steady: {stats.answered:,} requests at {stats.rps:,.0f}/s; request -> applied in reporting: "
            f"p50 {steady_result['latency_s']['p50']} s, p99 {steady_result['latency_s']['p99']} s "
            f"(goal p99 < 2 s), max {steady_result['latency_s']['max']} s"
        )
        return {"burst": burst_result, "steady": steady_result}
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        asyncio.run(radius_bench.delete_topics(bootstrap, prefix))
        for name in names.values():
            asyncio.run(radius_bench.freeradius.drop_database(admin, name))
