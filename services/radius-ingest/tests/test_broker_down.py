"""RFC 2866 §4.1 with Kafka as the durable store: no Accounting-Response before Kafka has the event.

The shared broker is never stopped (other test sessions use it): this test starts a private single-node Kafka
with deploy/local/kafka.sh (own state directory and ports, the shared broker's jars), stops it while a NAS
(radclient, retransmitting) waits, and starts it again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bss_contracts import topics
from bss_contracts.events.radius import SessionStarted
from bss_testkit.events import EventProbe
from bss_testkit.plugin import repo_root

from .support import attrs, client_entry, free_port, radclient, running_service

pytestmark = pytest.mark.timeout(300)


class PrivateKafka:
    def __init__(self, state: Path) -> None:
        self.port = free_port(socket.SOCK_STREAM)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.script = repo_root() / "deploy" / "local" / "kafka.sh"
        self.env = os.environ | {
            "BSS_STATE_DIR": str(state),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port(socket.SOCK_STREAM)),
            "KAFKA_HEAP_OPTS": "-Xmx256m -Xms256m",
        }
        # Reuse the jars the shared broker fetched (a fresh machine fetches them here instead).
        shared_lib = Path(os.environ.get("BSS_STATE_DIR", "/var/tmp/ispbss")) / "kafka" / "lib"
        if shared_lib.is_dir():
            (state / "kafka").mkdir(parents=True, exist_ok=True)
            (state / "kafka" / "lib").symlink_to(shared_lib)

    async def run(self, command: str) -> None:
        done = await asyncio.to_thread(
            subprocess.run, [str(self.script), command], env=self.env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"kafka.sh {command}: {done.stdout}{done.stderr}"


@pytest.fixture
def kafka_state() -> Iterator[Path]:
    state = Path(f"/tmp/radius-kafka-{uuid.uuid4().hex[:8]}")  # short path: Kafka's log dirs
    state.mkdir()
    yield state
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
async def private_kafka(kafka_state: Path) -> AsyncIterator[PrivateKafka]:
    kafka = PrivateKafka(kafka_state)
    await kafka.run("start")
    try:
        yield kafka
    finally:
        await kafka.run("stop")


async def test_no_reply_while_kafka_is_down_then_reply_and_the_event_once(
    private_kafka: PrivateKafka, fresh_database: Any, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}."
    async with running_service(
        tmp_path,
        database_url=await fresh_database("radius_broker"),
        bootstrap=private_kafka.bootstrap,
        prefix=prefix,
        clients_toml=client_entry("acme", "bras-lo", "127.0.0.1"),
        KAFKA_DELIVERY_TIMEOUT_MS="180000",
        UNHEALTHY_AFTER_SECONDS="2",
        TRACK_SESSIONS="false",
    ) as service:
        before = await radclient(
            service.radius_port, attrs(User_Name="warmup", Acct_Session_Id="w", Acct_Status_Type="Start")
        )
        assert before.answered

        await private_kafka.run("stop")
        user = f"erin-{uuid.uuid4().hex[:8]}"
        # The NAS retransmits every second for up to 90 s (same Identifier and authenticator).
        nas = asyncio.create_task(radclient(service.radius_port, attrs(
            User_Name=user, Acct_Session_Id="K-1", Acct_Status_Type="Start", Event_Timestamp=1767225600,
        ), retries=90, timeout=1))  # fmt: skip
        await asyncio.sleep(5)
        assert not nas.done(), "answered although Kafka was down"
        # Kafka has left a record unacknowledged for longer than 2 s: Status-Server goes unanswered.
        status = await radclient(service.radius_port, "Message-Authenticator = 0x00\n", command="status", timeout=1)
        assert not status.answered

        await private_kafka.run("start")
        reply = await asyncio.wait_for(nas, timeout=120)
        assert reply.answered, reply

        async with EventProbe(private_kafka.bootstrap, prefix, topics.SESSIONS) as probe:
            await probe.wait_for(lambda e: e.subject == user)
            seen = await probe.settle(2.0)
        mine = [e for e in seen if e.subject == user]
        assert len(mine) == 1, [e.id for e in mine]
        started = mine[0].parse_data(SessionStarted).data
        assert started.event_time.timestamp() == 1767225600 and started.acct_session_id == "K-1"
        status = await radclient(service.radius_port, "Message-Authenticator = 0x00\n", command="status")
        assert status.answered
