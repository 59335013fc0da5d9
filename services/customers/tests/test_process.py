"""`python -m customers` serves the API over real HTTP (uvicorn), with the relay publishing to Kafka; in
production it refuses to start with the published default JWT secret."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

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


async def test_the_service_process_answers_http_and_publishes(fresh_database, kafka_bootstrap, topic_prefix):
    port, prefix = _free_port(), f"{topic_prefix}process."
    env = os.environ | {
        "DATABASE_URL": await fresh_database("customers_process"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "production",
        "JWT_SECRET": PRODUCTION_SECRET,
    }
    process = subprocess.Popen([sys.executable, "-m", "customers"], env=env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    assert process.poll() is None, "the service exited"
                    return False

            await eventually(ready, timeout=60)
            s = Settings()
            jwt = JwtConfig(PRODUCTION_SECRET, s.jwt_issuer, s.jwt_audience)
            token = issue_token(jwt, subject="u", tenant_id="isp-p", roles=["support"])
            created = await client.post(
                "/customers", json={"name": "Over the wire", "service_country": "fr"},
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
            assert created.status_code == 201, created.text
            cid = created.json()["customer_id"]
        async with EventProbe(kafka_bootstrap, prefix, topics.CUSTOMERS) as probe:
            [event] = await probe.wait_for(lambda e: e.subject == cid)
        assert event.data["customer"]["service_country"] == "FR"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_production_refuses_to_start_with_the_default_jwt_secret():
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"} | {"ENVIRONMENT": "production"}
    refused = subprocess.run([sys.executable, "-m", "customers"], env=env, capture_output=True, timeout=60)
    assert refused.returncode == 1
    assert b"refusing to start: JWT_SECRET is the published default" in refused.stderr
