"""The native hot path (Rust, `services/radius-ingest/native`) wired to this service.

`fast_path()` hands the Rust code everything it must agree on with the Python reference: attribute codes
and types and value names from the FreeRADIUS dictionaries, the event models' types, schema versions,
topics and field order, the envelope source and the event id namespace. `NativeEndpoint` then owns the
worker's UDP socket: datagrams are read in batches (recvmmsg); ordinary Start / Interim-Update / Stop
requests come back parsed, verified and encoded and go to `AccountingServer.accept`; every other datagram
goes to `AccountingServer.datagram_received`, the reference path. Replies leave in batches (sendmmsg).
"""

from __future__ import annotations

import asyncio
import ctypes.util
import logging
import socket
import uuid
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

from radius_ingest.adapters.kafka import BUSY_TICK, IDLE_TICK, DeliveryReport
from radius_ingest.domain.accounting import ATTRIBUTES_READ, EVENT_ID_NAMESPACE, SESSION_MODELS
from radius_ingest.domain.nas import NasClient
from radius_ingest.protocol.dictionary import RadiusDictionary
from radius_ingest.server import AccountingServer

log = logging.getLogger(__name__)
READ_LIMIT = 1024  # datagrams per wake-up, so that delivery reports and timers get their turn


def load() -> Any:
    """The extension module, or None when it is not built (the service then runs the reference path)."""
    try:
        import radius_ingest_native
    except ImportError:
        return None
    return radius_ingest_native


def fast_path(dictionary: RadiusDictionary, source: str) -> Any:
    """A `radius_ingest_native.FastPath` for this dictionary; ValueError if the dictionary's types do not suit it."""
    module = load()
    if module is None:
        raise ImportError("radius_ingest_native is not installed")
    specs = [dictionary.by_name[name] for name in ATTRIBUTES_READ]
    values = {name: dict(dictionary.by_name[name].values) for name in ("Acct-Status-Type", "NAS-Port-Type",
                                                                      "Acct-Terminate-Cause")}  # fmt: skip
    models = {
        status: (model.event_type, model.schema_version, model.topic.name, list(model.model_fields))
        for status, model in SESSION_MODELS.items()
    }
    return module.FastPath(
        [(s.code, s.name, s.type) for s in specs],
        list(dictionary.by_code),
        values,
        models,
        source,
        uuid.UUID(EVENT_ID_NAMESPACE).bytes,
    )


def client_rows(clients: Iterable[NasClient]) -> list[tuple[str, str, str, bytes]]:
    return [(c.address, c.tenant_id, c.nas_id, c.secret) for c in clients]


def librdkafka_path() -> str | None:
    """The librdkafka that confluent-kafka loads: its wheel's bundled copy, else the system's."""
    import confluent_kafka

    bundled = sorted(Path(confluent_kafka.__file__).parent.parent.glob("confluent_kafka.libs/librdkafka*.so*"))
    if bundled:
        return str(bundled[-1])
    return ctypes.util.find_library("rdkafka")


def start_producer(fast: Any, config: dict[str, object], topic_prefix: str, library: str | None = None) -> bool:
    """Lets the native path produce to Kafka itself (same librdkafka, same configuration as KafkaPublisher);
    False, with a warning, if that library cannot be found or loaded, or is refused: the native code declares
    librdkafka's structures by hand, so it loads only the version confluent-kafka reports, and only a major
    version those declarations follow (`radius_ingest_native.librdkafka_refused`). KafkaPublisher then produces.
    `library` overrides the path found by `librdkafka_path()`."""
    import confluent_kafka

    path = library or librdkafka_path()
    if path is None:
        log.warning("librdkafka not found; producing through confluent-kafka")
        return False
    text = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in config.items()]
    try:
        fast.start_producer(path, confluent_kafka.libversion()[1], text, topic_prefix)
    except ValueError as exc:
        log.warning("native producer unavailable; producing through confluent-kafka", extra={"reason": str(exc)})
        return False
    return True


class NativePublisher:
    """KafkaPublisher's counterpart when the native path produces: records built in Rust go to librdkafka
    without becoming Python objects (`value` is then their handle); records of the Python path are handed over
    as they are. Delivery reports are polled on the event loop, as KafkaPublisher does."""

    def __init__(
        self, fast: Any, *, loop: asyncio.AbstractEventLoop, on_delivered: Callable[[list[DeliveryReport]], None]
    ) -> None:
        self._fast = fast
        self._loop = loop
        self._on_delivered = on_delivered
        self._tick: asyncio.TimerHandle | None = loop.call_later(IDLE_TICK, self._poll)

    def publish(self, topic: str | None, key: bytes | None, value: bytes | int, headers: Any, token: Hashable) -> None:
        """Queue one record; BufferError when librdkafka's queue is full (the caller drops the request)."""
        if type(value) is int:
            self._fast.produce(value, token)
        else:
            pairs = [(name, v if isinstance(v, bytes) else (v or "").encode()) for name, v in headers]
            self._fast.produce_record(topic, key, value, pairs, token)

    def in_queue(self) -> int:
        return int(self._fast.kafka_in_queue())

    def _poll(self) -> None:
        reports = self._fast.poll_kafka()
        if reports:
            self._on_delivered(reports)
        self._tick = self._loop.call_later(BUSY_TICK if self.in_queue() else IDLE_TICK, self._poll)

    async def close(self, timeout: float = 10.0) -> int:
        """Wait for records in flight (up to `timeout`); returns how many were left unacknowledged."""
        deadline = self._loop.time() + timeout
        while self.in_queue() and self._loop.time() < deadline:
            await asyncio.sleep(BUSY_TICK * 10)
            reports = self._fast.poll_kafka()
            if reports:
                self._on_delivered(reports)
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        reports = self._fast.poll_kafka()
        if reports:
            self._on_delivered(reports)
        return self.in_queue()


class NativeEndpoint:
    """The worker's UDP socket, read and written in batches by the native path (IPv4 only)."""

    def __init__(
        self,
        sock: socket.socket,
        fast: Any,
        server: AccountingServer,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float],
    ) -> None:
        self._sock = sock
        self._fd = sock.fileno()
        self._fast = fast
        self._server = server
        self._loop = loop
        self._clock = clock
        self._pending: list[tuple[bytes, tuple[Any, ...]]] = []
        self._flush_scheduled = False
        self._waiting_writable = False
        server.connection_made(self)  # type: ignore[arg-type]  # the server only calls sendto()
        loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            batch = self._fast.receive(self._fd, self._clock(), READ_LIMIT)
        except OSError as exc:  # e.g. ICMP port unreachable of an earlier reply, reported on this socket
            self._server.error_received(exc)
            return
        now = self._clock()
        server = self._server
        for item in batch:
            if len(item) == 2:
                server.datagram_received(item[1], item[0])
            else:
                server.accept(item, now)

    def sendto(self, data: bytes, addr: tuple[Any, ...]) -> None:
        """Queues a reply; everything queued in one turn of the event loop leaves in one sendmmsg."""
        self._pending.append((data, addr))
        if not self._flush_scheduled and not self._waiting_writable:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        try:
            sent = self._fast.send(self._fd, pending)
        except OSError as exc:
            self._server.error_received(exc)
            sent = 1  # that datagram is lost (UDP: the NAS retransmits); the others go out next turn
        if sent < len(pending):
            self._pending[:0] = pending[sent:]
            if not self._waiting_writable:  # the socket buffer is full: wait until it drains
                self._waiting_writable = True
                self._loop.add_writer(self._fd, self._writable)

    def _writable(self) -> None:
        self._loop.remove_writer(self._fd)
        self._waiting_writable = False
        self._flush()

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        if self._waiting_writable:
            self._loop.remove_writer(self._fd)
        self._flush()
        self._sock.close()
