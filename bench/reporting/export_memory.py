"""One services export in a process of its own, through a real HTTP server, to measure its peak memory.

    python bench/reporting/export_memory.py DATABASE_URL TENANT FORMAT

Prints JSON: rows counted in the output, bytes, seconds, the resident memory before the request and its peak
while the export streams (sampled every 20 ms). The client side reads the body as a stream and keeps none of
it (Parquet and xlsx go to a temporary file, to count their rows).

For CSV, the limit too: PostgreSQL's `COPY (the export's statement) TO STDOUT` of the same rows, read by asyncpg
and dropped, timed right before the export (the same bytes: the export is that COPY streamed through HTTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import sys
import tempfile
import time
import zipfile

import asyncpg
import httpx
import pyarrow.parquet as pq
import uvicorn

from bss_runtime.auth import issue_token
from reporting.adapters.repository import services_csv_sql
from reporting.config import Settings
from reporting.entrypoints.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb() -> float:
    """The process's resident memory now (VmRSS)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def sample_peak(peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


async def copy_limit(database_url: str, tenant: str) -> tuple[float, int]:
    """Seconds and bytes of COPY ... TO STDOUT of the export's rows, on a connection of its own."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    size = 0

    async def drop(data: bytes) -> None:
        nonlocal size
        size += len(data)

    try:
        started = time.perf_counter()
        await conn.copy_from_query(
            services_csv_sql("readmodel"), tenant, ["active"], output=drop, format="csv", header=True
        )
        return time.perf_counter() - started, size
    finally:
        await conn.close()


async def main(database_url: str, tenant: str, fmt: str) -> dict[str, object]:
    limit = await copy_limit(database_url, tenant) if fmt == "csv" else None
    app = create_app(Settings(database_url=database_url, log_level="WARNING"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    baseline = rss_mb()
    peak, done = [baseline], asyncio.Event()
    sampler = asyncio.create_task(sample_peak(peak, done))
    token = issue_token(app.state.service.runtime.jwt, subject="bench", tenant_id=tenant, roles=["admin"])
    started = time.perf_counter()
    size, rows, carry = 0, 0, b""
    with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as out:
        async with httpx.AsyncClient(timeout=600) as client, client.stream(
            "GET", f"http://127.0.0.1:{port}/billing/reports/services/export",
            params={"format": fmt}, headers={"Authorization": f"Bearer {token}"},
        ) as response:  # fmt: skip
            assert response.status_code == 200, await response.aread()
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if fmt == "csv":
                    rows += chunk.count(b"\n")
                elif fmt == "json":
                    text = carry + chunk
                    rows += text.count(b'"subscriber_id"')
                    carry = text[-14:]  # shorter than the pattern: no match is counted twice
                else:
                    out.write(chunk)
        seconds = time.perf_counter() - started
        done.set()
        await sampler
        out.flush()
        if fmt == "csv":
            rows -= 1  # the header
        elif fmt == "parquet":
            rows = pq.ParquetFile(out.name).metadata.num_rows
        elif fmt == "xlsx":
            with zipfile.ZipFile(out.name) as z, z.open("xl/worksheets/sheet1.xml") as sheet:
                head = sheet.read(2048).decode()
            last = head.split('<dimension ref="A1:', 1)[1].split('"', 1)[0]
            rows = int("".join(ch for ch in last if ch.isdigit())) - 1
    server.should_exit = True
    await serving
    if limit is not None:
        assert limit[1] == size, f"COPY wrote {limit[1]} bytes, the export {size}"
        copy = {"copy_seconds": round(limit[0], 2), "ratio_to_copy": round(limit[0] / seconds, 2)}
    else:
        copy = {}
    return copy | {"format": fmt, "rows": rows, "bytes": size, "seconds": round(seconds, 2),
            "rss_before_mb": round(baseline, 1), "peak_rss_mb": round(peak[0], 1),
            "max_rss_of_process_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))))
