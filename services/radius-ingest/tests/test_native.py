"""The native (Rust) hot path against the Python reference: byte-identical Kafka records and replies.

Two `AccountingServer`s see the same datagrams at the same clock: one through `datagram_received` only
(the reference), the other as a worker serves them — `FastPath.process` first, `accept` for what it
returns, `datagram_received` for what it hands back. Every record (topic, key, value, headers), every reply
and every counter must be equal. Packets: the benchmark's whole packet set (gigawords > 0 in a fifth of
the sessions) plus crafted odd ones (malformed framing, bad authenticators, Message-Authenticator, strings
JSON must escape, bytes that are not UTF-8, missing or unknown values, IPv6, Accounting-On, Status-Server)
and random corruptions of real packets.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import socket
import struct
import sys
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bss_contracts.topics import SESSIONS
from radius_ingest.adapters import native
from radius_ingest.adapters.kafka import producer_config
from radius_ingest.domain.nas import NasClient, NasDirectory
from radius_ingest.protocol.dictionary import RadiusDictionary
from radius_ingest.protocol.packet import AttributeDecoder
from radius_ingest.server import AccountingServer
from radius_ingest.telemetry import Counters

from .support import DICTIONARY

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "radius"))
import packets as bench_packets  # the benchmark's own packet set

NOW = 1_767_229_200.75  # arrival time of every datagram (events without Event-Timestamp use it)
SOURCE = "/services/radius-ingest"
SECRET = b"differential-secret"
CIDR_CLIENT = NasClient("globex", "pool-10", "10.20.0.0/16", b"block-secret")


class Recorder:
    """Publisher and transport at once: what the server would have sent to Kafka and to the NAS."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes, Any]] = []
        self.replies: list[tuple[bytes, Any]] = []

    def publish(self, topic: str, key: bytes, value: bytes, headers: Any, token: Hashable) -> None:
        self.records.append((topic, key, value, headers))

    def sendto(self, data: bytes, addr: Any) -> None:
        self.replies.append((data, addr))


def make_server(directory: NasDirectory) -> tuple[AccountingServer, Recorder]:
    from radius_ingest.domain.accounting import ATTRIBUTES_READ

    server = AccountingServer(
        directory=directory,
        decoder=AttributeDecoder(DICTIONARY, ATTRIBUTES_READ),
        source=SOURCE,
        counters=Counters(),
        clock=lambda: NOW,
    )
    recorder = Recorder()
    server.publisher = recorder
    server.connection_made(recorder)  # type: ignore[arg-type]
    return server, recorder


class Differential:
    def __init__(self, clients: list[NasClient]) -> None:
        directory = NasDirectory(clients)
        self.reference, self.expected = make_server(directory)
        self.candidate, self.actual = make_server(directory)
        self.fast = native.fast_path(DICTIONARY, SOURCE)
        self.fast.set_clients(native.client_rows(clients))
        self.native_count = 0

    def feed(self, datagram: bytes, addr: tuple[str, int]) -> bool:
        """One datagram through both; True when the native path served it."""
        self.reference.datagram_received(datagram, addr)
        item = self.fast.process(datagram, addr[0], addr[1], NOW)
        if item is None:
            self.candidate.datagram_received(datagram, addr)
            return False
        self.candidate.accept(item, NOW)
        self.native_count += 1
        return True

    def acknowledge_all(self) -> None:
        """Kafka acknowledges every record in flight (in the same order on both sides)."""
        for server in (self.reference, self.candidate):
            server.delivered([(event_id, None) for event_id in list(server._in_flight)])

    def assert_equal(self) -> None:
        assert len(self.actual.records) == len(self.expected.records)
        for actual, expected in zip(self.actual.records, self.expected.records, strict=True):
            assert actual == expected
        assert self.actual.replies == self.expected.replies
        assert self.candidate.counters.values == self.reference.counters.values


def sign(identifier: int, body: bytes, secret: bytes, *, message_authenticator: bool = False) -> bytes:
    if message_authenticator:
        body += bytes((80, 18)) + bytes(16)
    header = bytes((4, identifier)) + (20 + len(body)).to_bytes(2, "big")
    if message_authenticator:
        body = body[:-16] + hmac.new(secret, header + bytes(16) + body, hashlib.md5).digest()
    return header + hashlib.md5(header + bytes(16) + body + secret).digest() + body


def attribute(code: int, raw: bytes) -> bytes:
    return bytes((code, len(raw) + 2)) + raw


def integer(name: str, value: int) -> bytes:
    return attribute(DICTIONARY.code(name), struct.pack(">I", value))


def text(name: str, value: str | bytes) -> bytes:
    return attribute(DICTIONARY.code(name), value.encode() if isinstance(value, str) else value)


def status(kind: str) -> bytes:
    return integer("Acct-Status-Type", DICTIONARY.value_code("Acct-Status-Type", kind))


@pytest.fixture(scope="module")
def bench_set() -> bench_packets.PacketSet:
    return bench_packets.build(100_000)


def test_the_benchmark_packet_set_is_byte_identical_and_all_native(bench_set: bench_packets.PacketSet) -> None:
    clients = [NasClient("bench", n.identifier, f"{n.source_ip}/32", n.secret) for n in bench_set.nas]
    run = Differential(clients)
    sent = 0
    for nas, bodies in zip(bench_set.nas, bench_set.bodies, strict=True):
        for i, body in enumerate(bodies):
            datagram = sign(i % 256, body, nas.secret)
            assert run.feed(datagram, (nas.source_ip, 40000 + i % 7)), "an ordinary request left the native path"
            sent += 1
            if sent % 5000 == 0:
                run.acknowledge_all()
    run.acknowledge_all()
    run.assert_equal()
    assert len(run.expected.records) == bench_set.total  # every request became one record
    assert len(run.expected.replies) == bench_set.total
    # the set has sessions past 4 GiB: 64-bit counters made of gigawords and octets went through both paths
    octets = [int(value.split(b'"input_octets":')[1].split(b",")[0]) for _, _, value, _ in run.expected.records]
    assert sum(o >= 1 << 32 for o in octets) > 1000


def _odd_packets() -> list[tuple[str, bytes, tuple[str, int], bool]]:
    """(what, datagram, source, served natively?) for crafted requests."""
    src = ("127.0.0.9", 5000)
    base = [
        text("User-Name", "alice@example"),
        text("Acct-Session-Id", "S-1"),
        integer("NAS-Port", 7),
        integer("Event-Timestamp", 1_767_225_700),
    ]

    def request(*extra: bytes, identifier: int = 1, secret: bytes = SECRET, ma: bool = False) -> bytes:
        return sign(identifier, b"".join([*base, *extra]), secret, message_authenticator=ma)

    stop = [
        status("Stop"),
        integer("Acct-Session-Time", 60),
        integer("Acct-Input-Gigawords", 3),
        integer("Acct-Input-Octets", 5),
        integer("Acct-Output-Gigawords", 0xFFFFFFFF),
        integer("Acct-Output-Octets", 0xFFFFFFFF),
    ]
    good = request(status("Start"))
    ipv6_nas = attribute(DICTIONARY.code("NAS-IPv6-Address"), bytes.fromhex("20010db8000000000000000000000001"))
    mapped_nas = attribute(DICTIONARY.code("NAS-IPv6-Address"), bytes.fromhex("00000000000000000000ffffc0000201"))
    prefix = attribute(DICTIONARY.code("Framed-IPv6-Prefix"), bytes((0, 64)) + bytes.fromhex("20010db8abcd0012"))
    bad_prefix = attribute(DICTIONARY.code("Framed-IPv6-Prefix"), bytes((0, 129)) + bytes(16))
    vsa = attribute(26, struct.pack(">I", 9) + bytes((1, 5)) + b"abc")
    return [
        ("start", good, src, True),
        ("the same datagram again (reply cache)", good, src, True),
        ("same event, new identifier (resend)", request(status("Start"), identifier=2), src, True),
        ("stop with gigawords and the largest counters", request(*stop, identifier=3), src, True),
        (
            "stop, unknown terminate cause",
            request(*stop, integer("Acct-Terminate-Cause", 999), identifier=4),
            src,
            True,
        ),
        ("stop, known terminate cause", request(*stop, integer("Acct-Terminate-Cause", 11), identifier=5), src, True),
        ("interim, Message-Authenticator", request(status("Interim-Update"), identifier=6, ma=True), src, True),
        (
            "wrong Message-Authenticator",
            request(status("Interim-Update"), identifier=7, ma=True)[:-1] + b"\x00",
            src,
            False,
        ),
        ("wrong Request Authenticator", good[:4] + bytes(16) + good[20:], src, False),
        ("wrong secret", request(status("Start"), identifier=8, secret=b"other"), src, False),
        ("unknown NAS", good, ("127.0.0.99", 5000), False),
        ("CIDR client", sign(9, b"".join([*base, status("Start")]), CIDR_CLIENT.secret), ("10.20.3.4", 1), True),
        ("truncated", good[:30], src, False),
        ("Length past the datagram", good[:2] + b"\x10\x00" + good[4:], src, False),
        ("attribute running past Length", good[:20] + bytes((1, 250)) + good[22:], src, False),
        ("padding after Length", good + b"\x00" * 10, src, True),
        ("no Acct-Status-Type", request(identifier=10), src, False),
        ("Accounting-On", request(status("Accounting-On"), identifier=11), src, False),
        ("Failed status", request(integer("Acct-Status-Type", 15), identifier=12), src, False),
        (
            "strings JSON escapes",
            sign(
                13,
                b"".join(
                    [
                        text("User-Name", 'a"b\\c\n\t\x01\x1f\x7f é 漢'),
                        text("Acct-Session-Id", "\x08\x0c\r"),
                        status("Start"),
                    ]
                ),
                SECRET,
            ),
            src,
            True,
        ),
        (
            "User-Name not UTF-8",
            sign(14, b"".join([text("User-Name", b"\xff\xfeab\xc3"), status("Start")]), SECRET),
            src,
            False,
        ),
        (
            "no User-Name, no Event-Timestamp, delay",
            sign(15, b"".join([status("Start"), integer("Acct-Delay-Time", 30)]), SECRET),
            src,
            True,
        ),
        ("NAS-IPv6-Address and a prefix", request(status("Start"), ipv6_nas, prefix, identifier=16), src, True),
        ("IPv4-mapped NAS-IPv6-Address", request(status("Start"), mapped_nas, identifier=17), src, False),
        (
            "malformed prefix, Vendor-Specific, unknown attribute",
            request(status("Start"), bad_prefix, vsa, attribute(250, b"x"), identifier=18),
            src,
            True,
        ),
        (
            "integer of the wrong size",
            request(status("Start"), text("NAS-Port-Type", b"\x00\x01"), identifier=19),
            src,
            True,
        ),
        (
            "unknown NAS-Port-Type",
            request(status("Start"), integer("NAS-Port-Type", 4242), identifier=20),
            src,
            True,
        ),
        (
            "repeated attributes: the first counts",
            request(status("Start"), text("User-Name", "bob"), identifier=21),
            src,
            True,
        ),
        (
            "session time before the epoch",
            request(status("Interim-Update"), integer("Acct-Session-Time", 0xFFFFFFF0), identifier=22),
            src,
            False,
        ),
        ("Status-Server", _status_server(), src, False),
        ("Access-Request", bytes((1,)) + good[1:], src, False),
    ]


def _status_server() -> bytes:
    header = bytes((12, 1, 0, 38))
    authenticator = bytes(range(16))
    unsigned = header + authenticator + bytes((80, 18)) + bytes(16)
    return header + authenticator + bytes((80, 18)) + hmac.new(SECRET, unsigned, hashlib.md5).digest()


def test_crafted_requests_are_identical_and_odd_ones_go_to_python() -> None:
    run = Differential([NasClient("acme", "bras-9", "127.0.0.9/32", SECRET), CIDR_CLIENT])
    for what, datagram, source, natively in _odd_packets():
        assert run.feed(datagram, source) is natively, what
        run.acknowledge_all()
        run.assert_equal()
    assert run.native_count >= 15


def test_random_corruptions_of_real_requests(bench_set: bench_packets.PacketSet) -> None:
    rng = random.Random(5)
    nas = bench_set.nas[0]
    run = Differential([NasClient("bench", nas.identifier, f"{nas.source_ip}/32", nas.secret)])
    for i, body in enumerate(bench_set.bodies[0][:3000]):
        raw = bytearray(body)
        for _ in range(rng.choice((1, 1, 2, 4))):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        # re-signed: the corruption must get past the authenticator to reach the parser and decoders
        datagram = sign(i % 256, bytes(raw), nas.secret) if i % 4 else bytes(sign(i % 256, body, nas.secret))[:-3]
        run.feed(datagram, (nas.source_ip, 1000 + i % 3))
        if i % 100 == 0:
            run.acknowledge_all()
    run.acknowledge_all()
    run.assert_equal()
    assert run.native_count > 1000


def test_the_native_path_refuses_a_dictionary_it_cannot_follow(tmp_path: Path) -> None:
    (tmp_path / "dictionary").write_text("$INCLUDE dictionary.rfc2866\n")
    (tmp_path / "dictionary.rfc2866").write_text(
        "ATTRIBUTE Acct-Status-Type 40 string\n"  # not an integer: the native path cannot read it as one
        + "".join(f"ATTRIBUTE {name} {100 + i} integer\n" for i, name in enumerate(
            ("Acct-Session-Id", "User-Name", "NAS-IP-Address", "NAS-IPv6-Address", "NAS-Identifier", "NAS-Port",
             "NAS-Port-Id", "NAS-Port-Type", "Framed-IP-Address", "Framed-IPv6-Prefix", "Delegated-IPv6-Prefix",
             "Calling-Station-Id", "Called-Station-Id", "Event-Timestamp", "Acct-Delay-Time", "Acct-Session-Time",
             "Acct-Input-Octets", "Acct-Input-Gigawords", "Acct-Output-Octets", "Acct-Output-Gigawords",
             "Acct-Input-Packets", "Acct-Output-Packets", "Acct-Terminate-Cause")))
    )  # fmt: skip
    with pytest.raises(ValueError, match="Acct-Status-Type"):
        native.fast_path(RadiusDictionary.load(tmp_path), SOURCE)


async def test_records_the_native_producer_puts_on_kafka_are_the_reference_bytes(
    bench_set: bench_packets.PacketSet, kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Through a real socket and a real broker: what `receive` + `produce` put on the topic (key, value,
    headers) equals the Python path's records for the same datagrams, and every record is acknowledged."""
    prefix = f"{topic_prefix}native."
    topic = prefix + SESSIONS.name
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    nas = bench_set.nas[1]
    clients = [NasClient("bench", nas.identifier, f"{nas.source_ip}/32", nas.secret)]
    fast = native.fast_path(DICTIONARY, SOURCE)
    fast.set_clients(native.client_rows(clients))
    config = producer_config(kafka_bootstrap, client_id="native-test", linger_ms=5, delivery_timeout_ms=30_000)
    assert native.start_producer(fast, config, prefix)
    reference, expected = make_server(NasDirectory(clients))
    server_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server_sock.bind(("127.0.0.1", 0))
    server_sock.setblocking(False)
    nas_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    nas_sock.bind((nas.source_ip, 0))
    datagrams = [sign(i % 256, body, nas.secret) for i, body in enumerate(bench_set.bodies[1][:400])]
    acknowledged: list[str] = []
    try:
        for datagram in datagrams:
            nas_sock.sendto(datagram, server_sock.getsockname())
            reference.datagram_received(datagram, nas_sock.getsockname())
            batch: list[Any] = []
            while not batch:
                batch = fast.receive(server_sock.fileno(), NOW, 64)
            [item] = batch
            assert len(item) == 10 and item[0] == nas_sock.getsockname()
            fast.produce(item[7], item[4])
        deadline = time.monotonic() + 30
        while len(acknowledged) < len(datagrams) and time.monotonic() < deadline:
            reports = fast.poll_kafka()
            assert all(error is None for _, error in reports)
            acknowledged += [token for token, _ in reports]
            await asyncio.sleep(0.01)
    finally:
        server_sock.close()
        nas_sock.close()
    assert sorted(acknowledged) == sorted(r[2].split(b'"id":"')[1][:36].decode() for r in expected.records)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    received: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
    try:
        deadline = time.monotonic() + 30
        while len(received) < len(datagrams) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                received += [(r.key, r.value, list(r.headers)) for r in records]
    finally:
        await consumer.stop()
    want = [(key, value, headers) for _, key, value, headers in expected.records]
    assert sorted(received) == sorted(want)
    assert len(received) == len(datagrams)


def test_the_native_producer_loads_only_the_librdkafka_confluent_kafka_reports(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Its hand-declared librdkafka structures hold for one major version: the library is checked at load."""
    import ctypes.util

    import confluent_kafka
    import radius_ingest_native

    text, version = confluent_kafka.libversion()
    assert radius_ingest_native.librdkafka_refused(version, version) is None  # the copy in use here: accepted
    refused = radius_ingest_native.librdkafka_refused(version + 0x100, version)  # one patch release apart
    assert refused is not None and "mismatch" in refused and text in refused
    for other_major in (0x01090200, 0x03000000):  # 1.9.2 and 3.0.0, even when confluent-kafka reports them
        assert "not supported" in (radius_ingest_native.librdkafka_refused(other_major, other_major) or "")

    config = producer_config(kafka_bootstrap, client_id="native-version", linger_ms=5, delivery_timeout_ms=5000)
    fast = native.fast_path(DICTIONARY, SOURCE)
    library = native.librdkafka_path()
    assert library is not None
    pairs = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in config.items()]
    with pytest.raises(ValueError, match="version mismatch"):  # the real library, said to be another version
        fast.start_producer(library, version + 0x100, pairs, "x.")
    libc = ctypes.util.find_library("c")
    assert libc is not None
    with caplog.at_level("WARNING"):  # not librdkafka at all: refused, and the service falls back
        assert native.start_producer(fast, config, "x.", library=libc) is False
    assert "native producer unavailable" in caplog.text
    assert native.start_producer(fast, config, "x.")  # the real one, as the service loads it
    assert fast.kafka_in_queue() == 0
