"""Load and checks of the whole-system fault tests (tests/e2e/test_faults.py, test_cluster_faults.py): HTTP writers
through the gateway and NAS sessions from radclient that record what the system accepted (answered) and what it
left unknown (no answer: may have happened), and the queries that count where each request ended up."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bss_testkit.system import Stack


@dataclass
class Load:
    """What the load sent, and what the system accepted (answered) or left unknown (no answer)."""

    accepted_customers: set[str] = field(default_factory=set)  # by email
    unknown_customers: set[str] = field(default_factory=set)
    accepted_sessions: dict[str, tuple[int, int]] = field(default_factory=dict)  # username -> (in, out) of its Stop
    started_sessions: set[str] = field(default_factory=set)  # Start answered
    unknown_sessions: set[str] = field(default_factory=set)  # some packet of the session never answered
    http_sent: int = 0
    radius_sent: int = 0
    last_http_ok: float = 0.0
    last_radius_ok: float = 0.0


async def radclient(port: int, attributes: str, secret: str) -> bool:
    """One Accounting-Request from radclient, retransmitted as a NAS does; True when it was answered."""
    process = await asyncio.create_subprocess_exec(
        "radclient", "-q", "-r", "15", "-t", "2", f"127.0.0.1:{port}", "acct", secret,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await process.communicate(attributes.encode())
    return process.returncode == 0


async def http_writer(stack: Stack, token: str, load: Load, stop: asyncio.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=10) as http:
        while not stop.is_set():
            email = f"c-{uuid.uuid4().hex[:12]}@faults.example.com"
            load.http_sent += 1
            try:
                answer = await http.post("/customers", json={"name": "Fault Tolerant", "email": email}, headers=headers)
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 201:
                load.accepted_customers.add(email)
                load.last_http_ok = time.monotonic()
                await asyncio.sleep(0.05)
            else:  # refused (the gateway's 502 while a service is down, a 429) or no answer: may have happened
                assert answer is None or answer.status_code in (429, 500, 502, 503, 504), answer.text
                load.unknown_customers.add(email)
                await asyncio.sleep(0.25)


async def nas(stack: Stack, load: Load, stop: asyncio.Event, secret: str) -> None:
    """One NAS's subscribers: each session a Start, then a Stop with its own counters past 2^32."""
    while not stop.is_set():
        user = f"u-{uuid.uuid4().hex[:12]}"
        octets_in, octets_out = (n := int(uuid.uuid4().int % 10**6)) + (3 << 32), n * 7
        session = f'User-Name = "{user}"\nAcct-Session-Id = "{user}"\nNAS-IP-Address = 127.0.0.1\n'
        load.radius_sent += 1
        if not await radclient(stack.radius_port, session + "Acct-Status-Type = Start\n", secret):
            load.unknown_sessions.add(user)
            continue
        load.started_sessions.add(user)
        load.last_radius_ok = time.monotonic()
        stop_packet = (
            f"{session}Acct-Status-Type = Stop\nAcct-Session-Time = 60\nAcct-Terminate-Cause = User-Request\n"
            f"Acct-Input-Octets = {octets_in & 0xFFFFFFFF}\nAcct-Input-Gigawords = {octets_in >> 32}\n"
            f"Acct-Output-Octets = {octets_out}\n"
        )
        load.radius_sent += 1
        if await radclient(stack.radius_port, stop_packet, secret):
            load.accepted_sessions[user] = (octets_in, octets_out)
            load.last_radius_ok = time.monotonic()
        else:
            load.unknown_sessions.add(user)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await check():
                return True
        except (OSError, asyncpg.PostgresError, httpx.HTTPError):
            pass
        await asyncio.sleep(every)
    return False


# the reporting rows of accepted sessions whose Stop is applied: a row appears with its Start, so waiting for rows
# alone may look before a Stop delayed by the fault
STOPPED_SESSIONS = (
    "SELECT username, count(*)::int FROM readmodel.sessions WHERE tenant_id = $1 AND username = ANY($2) "
    "AND stop_source = 'stop' GROUP BY username"
)


async def counts(url: str, query: str, tenant: str, keys: list[str]) -> dict[str, int]:
    """{key: rows} of `query` ($1 the tenant, $2 the keys)."""
    connection = await asyncpg.connect(url)
    try:
        return {r[0]: r[1] for r in await connection.fetch(query, tenant, keys)}
    finally:
        await connection.close()


async def dead_letters(bootstrap: str) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.endswith(".dlq"))
        found: dict[str, int] = {}
        for topic in topics:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            ends, starts = await consumer.end_offsets(parts), await consumer.beginning_offsets(parts)
            found[topic] = sum(ends[p] - starts[p] for p in parts)
        return found
    finally:
        await consumer.stop()
