"""What the benchmarks share: publishing domain events to Kafka as the services' relays do, and timing summaries."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer

from bss_contracts import DomainEvent, Envelope
from bss_runtime.kafka import ensure_topics


async def publish(bootstrap: str, prefix: str, events: Iterable[DomainEvent], tenant: str) -> float:
    """Send `events` (one tenant's; a sequence, or an iterator generating them as they go) to the prefixed
    topics, keyed and headed as the outbox relay sends them, with acks=all; returns the seconds it took."""
    await ensure_topics(bootstrap, prefix)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for data in events:
            env = Envelope.wrap(data, source="/bench", tenant_id=tenant)
            pending.append(
                await producer.send(
                    f"{prefix}{data.topic.name}",
                    env.model_dump_json().encode(),
                    key=env.subject.encode(),
                    headers=[(k, v.encode()) for k, v in env.headers().items()],
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


def stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50 and p95 (nearest rank) of latencies in milliseconds."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2), "runs": len(ordered)}
