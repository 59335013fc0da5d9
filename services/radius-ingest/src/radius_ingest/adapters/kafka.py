"""The hot path's Kafka producer: librdkafka (confluent-kafka), idempotent, acks=all, many records in flight.

`publish` only queues a record (microseconds); librdkafka batches and sends from its own C threads.
Delivery reports are collected on the event loop itself (`poll(0)` on a 1 ms tick while records are in
flight, 50 ms when idle): a separate polling thread would fight the loop for the GIL on every report, which
measured several times the CPU per request. Each Accounting-Response goes out in the tick after Kafka
acknowledged its record.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Hashable

from confluent_kafka import KafkaError, Message, Producer

Headers = list[tuple[str, str | bytes | None]]
DeliveryReport = tuple[Hashable, KafkaError | None]  # (the token given to publish, None if acknowledged)
BUSY_TICK = 0.001
IDLE_TICK = 0.05


def producer_config(
    bootstrap: str, *, client_id: str, linger_ms: float, delivery_timeout_ms: int, compression: str = "none"
) -> dict[str, object]:
    return {
        "compression.type": compression,
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,  # retries never duplicate or reorder a partition's records
        "linger.ms": linger_ms,
        "batch.num.messages": 10_000,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 200_000,
        # A record not acknowledged by then is reported failed; its request stays unanswered and the NAS's
        # next retransmission publishes it again (same event id: consumers deduplicate).
        "message.timeout.ms": delivery_timeout_ms,
        "socket.keepalive.enable": True,
    }


class KafkaPublisher:
    def __init__(
        self,
        config: dict[str, object],
        *,
        topic_prefix: str,
        loop: asyncio.AbstractEventLoop,
        on_delivered: Callable[[list[DeliveryReport]], None],
    ) -> None:
        self._producer = Producer(config)
        self._prefix = topic_prefix
        self._loop = loop
        self._on_delivered = on_delivered
        self._reports: list[DeliveryReport] = []
        self._tick: asyncio.TimerHandle | None = loop.call_later(IDLE_TICK, self._poll)

    def publish(
        self, topic: str | None, key: bytes | None, value: bytes | int, headers: Headers | None, token: Hashable
    ) -> None:
        """Queue one record (topic without the deployment's prefix); raises BufferError when librdkafka's queue is
        full (the caller drops the request). Records only: handles of records kept in Rust are NativePublisher's."""
        if topic is None or isinstance(value, int):
            raise TypeError("a native record handle reached the confluent-kafka publisher")
        self._producer.produce(
            self._prefix + topic, value, key, headers=headers, on_delivery=functools.partial(self._report, token)
        )

    def in_queue(self) -> int:
        return len(self._producer)

    def _report(self, token: Hashable, error: KafkaError | None, _message: Message) -> None:
        self._reports.append((token, error))  # runs inside poll(), on the loop

    def _poll(self) -> None:
        self._producer.poll(0)
        self._hand_over()
        self._tick = self._loop.call_later(BUSY_TICK if len(self._producer) else IDLE_TICK, self._poll)

    def _hand_over(self) -> None:
        if self._reports:
            batch, self._reports = self._reports, []
            self._on_delivered(batch)

    async def close(self, timeout: float = 10.0) -> int:
        """Wait for records in flight (up to `timeout`); returns how many were left unacknowledged."""
        deadline = self._loop.time() + timeout
        while len(self._producer) and self._loop.time() < deadline:  # noqa: ASYNC110 - librdkafka has no awaitable
            await asyncio.sleep(BUSY_TICK * 10)
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self._producer.poll(0)
        self._hand_over()
        return len(self._producer)
