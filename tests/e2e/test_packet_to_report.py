"""The architecture page, as a test: a RADIUS packet from radclient becomes a row of the session-history report.

Three real services on the real broker, each with its own database and nothing shared but the topics:
customers (in-process, over HTTP) knows the subscriber; radius-ingest (its own processes, UDP) turns radclient's
Accounting-Requests into session events; reporting (in-process) builds its read model from both and answers
GET /billing/reports/sessions/history.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bss_runtime.auth import JwtConfig, issue_token
from bss_testkit.events import eventually
from customers.config import Settings as CustomersSettings
from customers.entrypoints.app import create_app as customers_app
from reporting.config import Settings as ReportingSettings
from reporting.entrypoints.app import create_app as reporting_app

pytestmark = pytest.mark.timeout(240)
TENANT = "e2e-isp"
SECRET = "e2e-shared-secret"
GIGA = 1 << 32


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def radclient(port: int, attributes: str, command: str = "acct") -> str:
    process = await asyncio.create_subprocess_exec(
        "radclient",
        "-x",
        "-r",
        "3",
        "-t",
        "3",
        f"127.0.0.1:{port}",
        command,
        SECRET,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate(attributes.encode())
    return out.decode()


async def test_a_radius_stop_becomes_a_session_history_row_with_exact_bytes(
    fresh_database: Any, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{topic_prefix}e2e."
    common = {"kafka_bootstrap_servers": kafka_bootstrap, "kafka_topic_prefix": prefix}
    customers = customers_app(CustomersSettings(database_url=await fresh_database("customers"), **common))
    reporting = reporting_app(ReportingSettings(database_url=await fresh_database("reporting"), **common))
    jwt = JwtConfig(CustomersSettings().jwt_secret)
    admin = {"Authorization": f"Bearer {issue_token(jwt, subject='e2e', tenant_id=TENANT, roles=['admin'])}"}

    radius_port, http_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    clients = tmp_path / "clients.toml"
    clients.write_text(
        f'[[nas_client]]\ntenant_id = "{TENANT}"\nnas_id = "bras-1"\naddress = "127.0.0.1"\nsecret = "{SECRET}"\n'
    )
    env = os.environ | {
        "DATABASE_URL": await fresh_database("radius_ingest"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "HTTP_PORT": str(http_port),
        "RADIUS_HOST": "127.0.0.1",
        "RADIUS_PORT": str(radius_port),
        "RADIUS_WORKERS": "1",
        "NAS_CLIENTS_FILE": str(clients),
    }
    log = (tmp_path / "radius.log").open("wb")
    radius = subprocess.Popen([sys.executable, "-m", "radius_ingest"], env=env, stdout=log, stderr=log)

    async with (
        customers.state.runtime.running(),
        reporting.state.service.runtime.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=customers), base_url="http://c") as crm,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=reporting), base_url="http://r") as reports,
    ):
        try:
            # The subscriber, as support would create it.
            customer = await crm.post("/customers", json={"name": "Ada Fibre", "billing_country": "DE"}, headers=admin)
            assert customer.status_code == 201, customer.text
            subscriber = await crm.post(
                f"/customers/{customer.json()['customer_id']}/subscribers",
                json={"username": "ada@fibre"},
                headers=admin,
            )
            assert subscriber.status_code == 201, subscriber.text
            subscriber_id = subscriber.json()["subscriber_id"]
            assert (await crm.post(f"/subscribers/{subscriber_id}/activate", headers=admin)).status_code == 200

            # The NAS: Start, then Stop with counters past 4 GiB (gigawords), as real RADIUS packets.
            await eventually(lambda: _answers_status(radius_port), timeout=90)
            session = 'User-Name = "ada@fibre"\nAcct-Session-Id = "e2e-0001"\nNAS-IP-Address = 127.0.0.1\n'
            started = await radclient(radius_port, session + "Acct-Status-Type = Start\n")
            assert "Received Accounting-Response" in started, started
            stop = (
                session + "Acct-Status-Type = Stop\nAcct-Session-Time = 16200\n"
                "Acct-Input-Octets = 1000\nAcct-Input-Gigawords = 1\n"
                "Acct-Output-Octets = 123456\nAcct-Output-Gigawords = 3\n"
                "Acct-Terminate-Cause = User-Request\nFramed-IP-Address = 100.64.1.123\n"
            )
            stopped = await radclient(radius_port, stop)
            assert "Received Accounting-Response" in stopped, stopped

            async def history() -> dict[str, Any] | None:
                answer = await reports.get(
                    "/billing/reports/sessions/history", params={"username": "ada@fibre"}, headers=admin
                )
                assert answer.status_code == 200, answer.text
                body: dict[str, Any] = answer.json()
                rows = body["sessions"]
                return body if rows and rows[0]["session_stop_time"] else None

            body = await eventually(history, timeout=60)
        finally:
            radius.send_signal(signal.SIGTERM)
            await asyncio.to_thread(radius.wait, 30)
            log.close()

    row = body["sessions"][0]
    assert row["username"] == "ada@fibre"
    assert row["input_octets"] == GIGA + 1000  # Acct-Input-Gigawords * 2^32 + Acct-Input-Octets
    assert row["output_octets"] == 3 * GIGA + 123456
    assert row["total_bytes"] == 4 * GIGA + 124456
    assert row["session_duration_seconds"] == 16200 and row["session_duration_hours"] == 4.5
    assert row["terminate_cause"] == "User-Request"
    assert row["framed_ip_address"] == "100.64.1.123"
    assert row["subscriber_id"] == subscriber_id  # joined from the customers service's events
    assert body["summary"]["total_sessions"] == 1


async def _answers_status(port: int) -> bool:
    return "Received Accounting-Response" in await radclient(port, "Message-Authenticator = 0x00\n", command="status")
