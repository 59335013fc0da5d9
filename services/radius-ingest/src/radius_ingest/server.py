"""The RADIUS accounting server of one worker process: an asyncio DatagramProtocol.

For every datagram: find the NAS client by source address, parse, verify the authenticators, answer
retransmissions from the reply cache, turn the request into an event, publish it, and send the
Accounting-Response only when Kafka has acknowledged that record (RFC 2866 §4.1). Anything wrong is
discarded silently, counted, and logged at a bounded rate; nothing a NAS sends can raise out of here.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from radius_ingest.adapters.kafka import DeliveryReport
from radius_ingest.adapters.records import encode_accounting
from radius_ingest.domain.accounting import NotAccounting, interpret
from radius_ingest.domain.nas import NasDirectory
from radius_ingest.protocol.authenticators import (
    accounting_response,
    message_authenticator_ok,
    request_authenticator_ok,
    status_server_response,
)
from radius_ingest.protocol.packet import (
    ACCOUNTING_REQUEST,
    STATUS_SERVER,
    AttributeDecoder,
    MalformedPacket,
    parse,
)
from radius_ingest.telemetry import Counters, RateLimitedLog

log = logging.getLogger(__name__)

Address = tuple[Any, ...]  # (host, port) or (host, port, flowinfo, scope_id)
CacheKey = tuple[Address, int, bytes]  # source, identifier, request authenticator
Headers = list[tuple[str, str | bytes | None]]
# What the native path hands over per request: source, identifier, request authenticator, reply, event id,
# topic, record key, value, headers, attributes skipped (see radius_ingest_native.FastPath.receive). When the
# native path produces to Kafka itself, the record stays in Rust: value is its handle, topic/key/headers None.
NativeRequest = tuple[Address, int, bytes, bytes, str, str | None, bytes | None, bytes | int, Headers | None, int]
_MISSING = object()


class Publisher(Protocol):
    """What the server needs of Kafka (see adapters.kafka.KafkaPublisher)."""

    def publish(
        self, topic: str | None, key: bytes | None, value: bytes | int, headers: Headers | None, token: Hashable
    ) -> None: ...


@dataclass(slots=True)
class _InFlight:
    since: float
    waiters: list[tuple[Address, bytes, CacheKey]] = field(default_factory=list)


class AccountingServer(asyncio.DatagramProtocol):
    def __init__(
        self,
        *,
        directory: NasDirectory,
        decoder: AttributeDecoder,
        source: str,
        counters: Counters,
        reply_cache_seconds: float = 30.0,
        unhealthy_after_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.decoder = decoder
        self.dictionary = decoder.dictionary
        self.source = source
        self.counters = counters
        self.publisher: Publisher | None = None
        self._ttl = reply_cache_seconds
        self._unhealthy_after = unhealthy_after_seconds
        self._clock = clock
        self._transport: asyncio.DatagramTransport | None = None
        # (source, identifier, authenticator) -> the reply, or None while its record waits for Kafka
        self._replies: dict[CacheKey, bytes | None] = {}
        self._reply_expiry: collections.deque[tuple[float, CacheKey]] = collections.deque()
        # event id -> requests waiting for that record's acknowledgement
        self._in_flight: dict[str, _InFlight] = {}
        # event ids Kafka acknowledged recently: an application-level resend is answered, not republished
        self._acked: dict[str, float] = {}
        self._acked_expiry: collections.deque[tuple[float, str]] = collections.deque()
        self._discards = RateLimitedLog(log)

    # --- transport -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's UDPTransport is not a subclass

    def error_received(self, exc: Exception) -> None:  # ICMP errors of earlier sends: nothing to do
        log.debug("socket error", exc_info=exc)

    def _send(self, reply: bytes, addr: Address) -> None:
        if self._transport is not None:
            self._transport.sendto(reply, addr)
            self.counters.values["answered"] += 1

    def _discard(self, reason: str, addr: Address, detail: str = "") -> None:
        self.counters.values[reason] += 1
        self._discards.warning(reason, (str(addr[0]), int(addr[1])), detail)

    # --- requests --------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Address) -> None:
        values = self.counters.values
        values["received"] += 1
        client = self.directory.lookup(addr[0])
        if client is None:
            self._discard("unknown_nas", addr)
            return
        try:
            packet = parse(data)
        except MalformedPacket as exc:
            self._discard("malformed", addr, str(exc))
            return
        secret = client.secret
        if packet.code == ACCOUNTING_REQUEST:
            if not request_authenticator_ok(packet, secret):
                self._discard("bad_authenticator", addr, "Request Authenticator")
                return
            if not message_authenticator_ok(packet, secret):
                self._discard("bad_authenticator", addr, "Message-Authenticator")
                return
        elif packet.code == STATUS_SERVER:
            # RFC 5997 §3: Status-Server without a valid Message-Authenticator is silently discarded.
            if packet.message_authenticator_offset < 0 or not message_authenticator_ok(packet, secret):
                self._discard("bad_authenticator", addr, "Status-Server Message-Authenticator")
                return
            if self.healthy():
                values["status_server"] += 1
                self._send(status_server_response(packet.identifier, packet.authenticator, secret), addr)
            return
        else:
            self._discard("unsupported_code", addr, f"code {packet.code}")
            return

        key: CacheKey = (addr, packet.identifier, packet.authenticator)
        if self._answered_from_cache(key, addr):
            return

        attributes, skipped = self.decoder.decode(packet)
        if skipped:
            values["attributes_skipped"] += skipped
        now = self._clock()
        try:
            accounting = interpret(attributes, client, addr[0], now, self.dictionary)
        except (NotAccounting, ValueError, OverflowError) as exc:
            self._discard("invalid_accounting", addr, str(exc)[:200])
            return
        reply = accounting_response(packet.identifier, packet.authenticator, secret)
        if accounting is None:
            values["ignored_status"] += 1
            self._remember(key, reply, now)
            self._send(reply, addr)
            return
        if self._answered_as_resend(accounting.event_id, key, addr, reply, now):
            return
        record = encode_accounting(accounting, tenant_id=client.tenant_id, source=self.source)
        event_id = accounting.event_id
        self._publish(record.topic, record.key, record.value, record.headers, event_id, key, addr, reply, now)

    def accept(self, request: NativeRequest, now: float) -> None:
        """An Accounting-Request the native path already checked, decoded and encoded (`native.FastPath`):
        the same steps as `datagram_received` from the reply cache on."""
        addr, identifier, authenticator, reply, event_id, topic, record_key, value, headers, skipped = request
        values = self.counters.values
        values["received"] += 1
        key: CacheKey = (addr, identifier, authenticator)
        if self._answered_from_cache(key, addr):
            return
        if skipped:
            values["attributes_skipped"] += skipped
        if self._answered_as_resend(event_id, key, addr, reply, now):
            return
        self._publish(topic, record_key, value, headers, event_id, key, addr, reply, now)

    def _answered_from_cache(self, key: CacheKey, addr: Address) -> bool:
        """A retransmission: answered with the very same reply, or dropped while its first copy waits for Kafka."""
        cached = self._replies.get(key, _MISSING)
        if cached is _MISSING:
            return False
        if cached is None:
            self.counters.values["retransmission_in_flight"] += 1
        else:
            self.counters.values["retransmission"] += 1
            self._send(cached, addr)  # type: ignore[arg-type]
        return True

    def _answered_as_resend(self, event_id: str, key: CacheKey, addr: Address, reply: bytes, now: float) -> bool:
        """The same event with a new Identifier: answered (acknowledged already) or attached to its record."""
        if event_id in self._acked:
            self.counters.values["resend"] += 1
            self._remember(key, reply, now)
            self._send(reply, addr)
            return True
        pending = self._in_flight.get(event_id)
        if pending is not None:
            self.counters.values["resend"] += 1
            pending.waiters.append((addr, reply, key))
            self._replies[key] = None
            return True
        return False

    def _publish(
        self, topic: str | None, record_key: bytes | None, value: bytes | int, headers: Headers | None,
        event_id: str, key: CacheKey, addr: Address, reply: bytes, now: float,
    ) -> None:  # fmt: skip
        if self.publisher is None:
            self._discard("backpressure", addr, "no Kafka producer yet")
            return
        try:
            self.publisher.publish(topic, record_key, value, headers, event_id)
        except BufferError:
            self._discard("backpressure", addr, "Kafka producer queue full")
            return
        self._in_flight[event_id] = _InFlight(now, [(addr, reply, key)])
        self._replies[key] = None

    # --- Kafka acknowledgements ------------------------------------------------------------------

    def delivered(self, reports: list[DeliveryReport]) -> None:
        """Delivery reports, in batches from the producer's polling thread (via call_soon_threadsafe)."""
        now = self._clock()
        values = self.counters.values
        for token, error in reports:
            pending = self._in_flight.pop(token, None)  # type: ignore[call-overload]
            if pending is None:
                continue
            if error is None:
                values["published"] += 1
                self._acked[token] = now  # type: ignore[index]
                self._acked_expiry.append((now, token))  # type: ignore[arg-type]
                for addr, reply, key in pending.waiters:
                    self._remember(key, reply, now)
                    self._send(reply, addr)
            else:
                values["publish_failed"] += 1
                log.warning("Kafka did not acknowledge a record; the NAS will retransmit", extra={"error": str(error)})
                for _, _, key in pending.waiters:
                    self._replies.pop(key, None)  # the retransmission publishes again

    # --- housekeeping ----------------------------------------------------------------------------

    def _remember(self, key: CacheKey, reply: bytes, now: float) -> None:
        self._replies[key] = reply
        self._reply_expiry.append((now, key))

    def expire(self) -> None:
        """Forget replies and acknowledged event ids older than the cache time (called about once a second)."""
        cutoff = self._clock() - self._ttl
        replies, expiry = self._replies, self._reply_expiry
        while expiry and expiry[0][0] < cutoff:
            stamp, key = expiry.popleft()
            if replies.get(key) is not None:
                del replies[key]
        acked, acked_expiry = self._acked, self._acked_expiry
        while acked_expiry and acked_expiry[0][0] < cutoff:
            stamp, event_id = acked_expiry.popleft()
            if acked.get(event_id) == stamp:
                del acked[event_id]
        self.counters.values["in_flight"] = len(self._in_flight)
        self.counters.values["oldest_in_flight_ms"] = int(self._oldest_in_flight() * 1000)

    def _oldest_in_flight(self) -> float:
        if not self._in_flight:
            return 0.0
        return self._clock() - next(iter(self._in_flight.values())).since

    def healthy(self) -> bool:
        """False while Kafka leaves a record unacknowledged too long, in this worker or another one (as of
        their last second): Status-Server then goes unanswered, so that a NAS with a second accounting
        server fails over to it."""
        if self._oldest_in_flight() >= self._unhealthy_after:
            return False
        return self.counters.highest("oldest_in_flight_ms") < self._unhealthy_after * 1000

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)
