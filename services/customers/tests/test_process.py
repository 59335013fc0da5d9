"""`python -m customers` serves the API over real HTTP (uvicorn), with the relay publishing to Kafka; in
production it refuses to start with the published default JWT secret."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bss_contracts import topics
from bss_runtime.auth import JwtConfig, issue_token
from bss_testkit.events import EventProbe, eventually
from customers.config import Settings

pytestmark = pytest.mark.timeout(120)

PRODUCTION_SECRET = "a-production-secret-of-at-least-32-bytes"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_workers(parent: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing spawn children) of `parent`."""
    found = []
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        with contextlib.suppress(OSError):
            if b"multiprocessing.spawn" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def _alive(pids: list[int]) -> list[int]:
    return [p for p in pids if Path(f"/proc/{p}").exists()]


async def test_the_service_process_answers_http_and_publishes(fresh_database, kafka_bootstrap, topic_prefix):
    """With HTTP_WORKERS=2 (as deploy/local runs it): two server processes on the one port, each answering with
    its own pool and relay; every customer created is published exactly once; all exit on SIGTERM."""
    port, prefix = _free_port(), f"{topic_prefix}process."
    env = os.environ | {
        "DATABASE_URL": await fresh_database("customers_process"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "production",
        "JWT_SECRET": PRODUCTION_SECRET,
        "HTTP_WORKERS": "2",
    }
    process = subprocess.Popen([sys.executable, "-m", "customers"], env=env)
    workers: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    assert process.poll() is None, "the service exited"
                    return False

            await eventually(ready, timeout=60)
            workers = _server_workers(process.pid)
            assert len(workers) == 2, workers
            s = Settings()
            jwt = JwtConfig(PRODUCTION_SECRET, s.jwt_issuer, s.jwt_audience)
            token = issue_token(jwt, subject="u", tenant_id="isp-p", roles=["support"])
            ids = []
            for n in range(6):  # a new connection each: the kernel hands them to either process
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as one:
                    created = await one.post(
                        "/customers", json={"name": f"Over the wire {n}", "service_country": "fr"},
                        headers={"Authorization": f"Bearer {token}"},
                    )  # fmt: skip
                assert created.status_code == 201, created.text
                ids.append(created.json()["customer_id"])
        async with EventProbe(kafka_bootstrap, prefix, topics.CUSTOMERS) as probe:
            await probe.wait_for(lambda e: e.subject in ids, count=len(ids))
            events = [e for e in await probe.settle(1.0) if e.subject in ids]
        assert sorted(e.subject for e in events) == sorted(ids)
        assert {e.data["customer"]["service_country"] for e in events} == {"FR"}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert not _alive(workers), "a server process outlived the service"


def test_production_refuses_to_start_with_the_default_jwt_secret():
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"} | {"ENVIRONMENT": "production"}
    refused = subprocess.run([sys.executable, "-m", "customers"], env=env, capture_output=True, timeout=60)
    assert refused.returncode == 1
    assert b"refusing to start: JWT_SECRET is the published default" in refused.stderr
