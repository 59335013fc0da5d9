"""A fast producer for benchmarks that publish millions of events: librdkafka through confluent-kafka.

The services' relays publish with aiokafka; a benchmark's load generator must be faster than the consumer it
measures, and aiokafka costs ~100 µs of Python per record. This sends the same records (envelope as JSON, keyed
by subject, CloudEvents headers) with acks=all and idempotence, at a few µs per record.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaError, Message, Producer

from bss_contracts import DomainEvent, Envelope


class FastProducer:
    """Publishes domain events of one tenant to prefixed topics; `close()` waits for every acknowledgement and
    raises if any record failed."""

    def __init__(self, bootstrap: str, prefix: str, tenant: str) -> None:
        self._prefix = prefix
        self._tenant = tenant
        self._failed: list[str] = []
        self.sent = 0
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 50,
                "batch.size": 1 << 20,
                "queue.buffering.max.messages": 500_000,
                "queue.buffering.max.kbytes": 512 * 1024,
            }
        )

    def _delivered(self, error: KafkaError | None, _: Message) -> None:
        if error is not None:
            self._failed.append(str(error))

    def send(self, events: Iterable[DomainEvent]) -> None:
        for data in events:
            env = Envelope.wrap(data, source="/bench", tenant_id=self._tenant)
            value = env.model_dump_json().encode()
            headers = [(k, v.encode()) for k, v in env.headers().items()]
            topic = f"{self._prefix}{data.topic.name}"
            while True:
                try:
                    self._producer.produce(
                        topic, value, key=env.subject.encode(), headers=headers, on_delivery=self._delivered
                    )
                    break
                except BufferError:  # the local queue is full: let librdkafka send, then try again
                    self._producer.poll(0.05)
            self.sent += 1
            if self.sent % 1000 == 0:
                self._producer.poll(0)

    def close(self) -> None:
        left = self._producer.flush(300)
        if left or self._failed:
            raise RuntimeError(f"{left} records unsent, {len(self._failed)} failed: {self._failed[:3]}")
