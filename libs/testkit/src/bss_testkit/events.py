"""Test helpers that talk to the real broker: read what a service published, publish what another would."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bss_contracts import DomainEvent, Envelope, RawEnvelope
from bss_contracts.topics import Topic


class EventProbe:
    """Reads a topic (prefixed) from the beginning and keeps every envelope it saw."""

    def __init__(self, bootstrap: str, prefix: str, *topics: Topic | str) -> None:
        names = [t if isinstance(t, str) else t.name for t in topics]
        self._consumer = AIOKafkaConsumer(
            *[f"{prefix}{n}" for n in names],
            bootstrap_servers=bootstrap,
            group_id=f"probe-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.seen: list[RawEnvelope] = []
        self.records: list[Any] = []

    async def __aenter__(self) -> EventProbe:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def _poll(self, timeout_s: float) -> None:
        batches = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000))
        for records in batches.values():
            for record in records:
                self.records.append(record)
                with contextlib.suppress(ValueError):
                    self.seen.append(RawEnvelope.model_validate_json(record.value))

    async def wait_for(
        self, predicate: Callable[[RawEnvelope], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[RawEnvelope]:
        """Wait until at least `count` envelopes match; returns all matches (fails on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            matches = [e for e in self.seen if predicate(e)]
            if len(matches) >= count:
                return matches
            if time.monotonic() > deadline:
                types = sorted({e.type for e in self.seen})
                raise AssertionError(f"timed out: {len(matches)}/{count} matching events; saw types {types}")
            await self._poll(0.2)

    async def settle(self, seconds: float = 1.0) -> list[RawEnvelope]:
        """Read whatever arrives within `seconds` (to prove that something did NOT happen twice)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self._poll(0.1)
        return self.seen

    def of_type(self, event_type: str) -> list[RawEnvelope]:
        return [e for e in self.seen if e.type == event_type]


async def publish_events(
    bootstrap: str, prefix: str, *events: tuple[DomainEvent, str], source: str = "/tests"
) -> list[Envelope[Any]]:
    """Publish (event, tenant_id) pairs the way a producing service's relay would; returns the envelopes."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    sent = []
    try:
        for data, tenant in events:
            env = Envelope.wrap(data, source=source, tenant_id=tenant)
            await producer.send_and_wait(
                f"{prefix}{data.topic.name}",
                env.model_dump_json().encode(),
                key=env.subject.encode(),
                headers=[(k, v.encode()) for k, v in env.headers().items()],
            )
            sent.append(env)
    finally:
        await producer.stop()
    return sent


async def eventually(check: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Await `check()` (sync or async) until it returns a truthy value; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
