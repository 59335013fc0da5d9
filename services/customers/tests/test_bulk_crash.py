"""A bulk import survives SIGKILL: the restarted service resumes where the last committed chunk ended, and
nothing is done twice (each customer, line and event exactly once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bss_runtime.auth import JwtConfig, issue_token
from bss_testkit.events import eventually
from customers.config import Settings

from .bulk_support import import_file
from .test_process import _free_port

pytestmark = pytest.mark.timeout(150)

ROWS = 6_000


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "customers"], env=env)


async def _ready(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    async def ready() -> bool:
        try:
            return (await client.get("/readyz")).status_code == 200
        except httpx.TransportError:
            assert process.poll() is None, "the service exited"
            return False

    await eventually(ready, timeout=60)


async def test_sigkill_mid_import_then_resume_without_doubles(fresh_database, kafka_bootstrap, topic_prefix):
    port, url = _free_port(), await fresh_database("customers_bulk_crash")
    env = os.environ | {
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": f"{topic_prefix}bulkcrash.",
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "test",
        "BULK_ROWS_PER_SECOND": "1500",
        "BULK_CHUNK_SIZE": "250",
    }
    s = Settings()
    token = issue_token(
        JwtConfig(s.jwt_secret, s.jwt_issuer, s.jwt_audience), subject="u", tenant_id="isp-k", roles=["ops"]
    )
    headers = {"Authorization": f"Bearer {token}"}
    data, _ = import_file(ROWS, prefix="crash")
    process = _start(env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await _ready(client, process)
            accepted = await client.post(
                "/bulk-operations/imports", content=data, headers=headers | {"Content-Type": "text/csv"}
            )
            assert accepted.status_code == 202, accepted.text
            op_id = accepted.json()["operation_id"]

            async def partly_done() -> dict[str, int] | None:
                view = (await client.get(f"/bulk-operations/{op_id}", headers=headers)).json()
                return view if 0 < view["done"] < ROWS // 2 else None

            before = await eventually(partly_done, timeout=30, interval=0.05)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

            process = _start(env)
            await _ready(client, process)

            async def finished() -> dict[str, int] | None:
                view = (await client.get(f"/bulk-operations/{op_id}", headers=headers)).json()
                return view if view["state"] not in ("queued", "running") else None

            done = await eventually(finished, timeout=60, interval=0.1)
        assert before["state"] == "running" and before["done"] < ROWS
        assert (done["state"], done["succeeded"], done["failed"]) == ("completed", ROWS, 0)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            customers = await conn.scalar(text("SELECT count(*) FROM customers WHERE tenant_id = 'isp-k'"))
            lines = await conn.scalar(
                text("SELECT count(DISTINCT username) FROM subscribers WHERE tenant_id = 'isp-k'")
            )
            events = (
                await conn.execute(
                    text(
                        "SELECT event_type, count(*), count(DISTINCT key) FROM outbox WHERE tenant_id = 'isp-k'"
                        " GROUP BY event_type ORDER BY event_type"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert (customers, lines) == (ROWS, ROWS)
    assert [tuple(r) for r in events] == [
        ("bss.customers.bulk-operation.completed", 1, 1),
        ("bss.customers.customer.created", ROWS, ROWS),
        ("bss.customers.subscriber.created", ROWS, ROWS),
    ]
