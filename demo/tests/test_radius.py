"""The demo's RADIUS client speaks the protocol radius-ingest reads: checked with radius-ingest's own parser,
authenticator check and dictionary decoder, and against a UDP server on the loopback."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import UTC, datetime

import pytest

from demo.radius import (
    INTERIM,
    START,
    STOP,
    NasClient,
    NasIdentity,
    NoAnswer,
    Report,
    SessionIdentity,
    accounting_request,
    attributes_for,
    response_ok,
    split_octets,
)
from radius_ingest.protocol.authenticators import accounting_response, request_authenticator_ok
from radius_ingest.protocol.dictionary import RadiusDictionary
from radius_ingest.protocol.packet import AttributeDecoder, parse

NAS = NasIdentity("bng-de-ber-01", "bng-de-ber-01", ipaddress.IPv4Address("127.0.0.1"), b"s3cret")
SESSION = SessionIdentity(
    username="anna.mueller@isp.example", acct_session_id="00AB12", nas_port=7, nas_port_id="0/1/2:100",
    framed_ip=ipaddress.IPv4Address("100.64.3.4"), delegated_prefix=ipaddress.IPv6Network("2001:db8:5:8100::/56"),
    calling_station_id="02-5E-00-00-06-2A",
)  # fmt: skip
WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def decoded(report: Report) -> dict[str, object]:
    packet = parse(accounting_request(9, attributes_for(NAS, SESSION, report), NAS.secret))
    assert request_authenticator_ok(packet, NAS.secret)
    assert not request_authenticator_ok(packet, b"other")
    attributes, undecodable = AttributeDecoder(RadiusDictionary.load()).decode(packet)
    assert undecodable == 0
    return attributes


def test_a_stop_carries_64_bit_counters_as_gigawords_and_octets() -> None:
    attributes = decoded(Report(STOP, WHEN, 108_000, 5 * 2**32 + 17, 9 * 2**32 + 5, "Lost-Carrier"))
    assert attributes["Acct-Status-Type"] == 2
    assert (attributes["Acct-Input-Gigawords"], attributes["Acct-Input-Octets"]) == (5, 17)
    assert (attributes["Acct-Output-Gigawords"], attributes["Acct-Output-Octets"]) == (9, 5)
    assert attributes["Acct-Session-Time"] == 108_000
    assert attributes["Acct-Terminate-Cause"] == 2
    assert attributes["Event-Timestamp"] == int(WHEN.timestamp())
    assert attributes["User-Name"] == "anna.mueller@isp.example"
    assert attributes["Framed-IP-Address"] == "100.64.3.4"
    assert attributes["Delegated-IPv6-Prefix"] == "2001:db8:5:8100::/56"
    assert attributes["NAS-Port-Id"] == "0/1/2:100"


def test_a_start_has_no_counters_and_an_interim_no_cause() -> None:
    start = decoded(Report(START, WHEN, 0, 0, 0))
    assert start["Acct-Status-Type"] == 1
    assert "Acct-Input-Octets" not in start and "Acct-Session-Time" not in start
    interim = decoded(Report(INTERIM, WHEN, 3600, 10, 20))
    assert (interim["Acct-Status-Type"], interim["Acct-Output-Octets"]) == (3, 20)
    assert "Acct-Terminate-Cause" not in interim


def test_split_octets() -> None:
    assert split_octets(2**32 - 1) == (0, 2**32 - 1)
    assert split_octets(2**32) == (1, 0)
    assert split_octets(21_474_836_480 + 7) == (5, 7)


def test_only_the_servers_signed_answer_to_this_request_counts() -> None:
    request = accounting_request(9, attributes_for(NAS, SESSION, Report(START, WHEN, 0, 0, 0)), NAS.secret)
    answer = accounting_response(9, request[4:20], NAS.secret)
    assert response_ok(answer, request, NAS.secret)
    assert not response_ok(answer, request, b"other")
    assert not response_ok(accounting_response(10, request[4:20], NAS.secret), request, NAS.secret)


class LossyServer(asyncio.DatagramProtocol):
    """Answers like an accounting server, but ignores the first `drop` datagrams."""

    def __init__(self, drop: int) -> None:
        self.drop = drop
        self.seen: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.seen.append(data)
        if len(self.seen) > self.drop and self.transport is not None:
            self.transport.sendto(accounting_response(data[1], data[4:20], NAS.secret), addr)


async def test_the_client_retransmits_the_same_datagram_until_answered() -> None:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(lambda: LossyServer(drop=2), local_addr=("127.0.0.1", 0))
    client = NasClient(NAS, transport.get_extra_info("sockname"), timeout=0.2, tries=5)
    await client.open()
    try:
        await client.send(attributes_for(NAS, SESSION, Report(START, WHEN, 0, 0, 0)))
    finally:
        client.close()
        transport.close()
    assert len(server.seen) == 3
    assert server.seen[0] == server.seen[1] == server.seen[2]  # a retransmission, not a new request
    assert client.retransmissions == 2


async def test_no_answer_at_all_is_an_error() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: LossyServer(drop=99), local_addr=("127.0.0.1", 0))
    client = NasClient(NAS, transport.get_extra_info("sockname"), timeout=0.05, tries=3)
    await client.open()
    try:
        with pytest.raises(NoAnswer):
            await client.send(attributes_for(NAS, SESSION, Report(START, WHEN, 0, 0, 0)))
    finally:
        client.close()
        transport.close()
