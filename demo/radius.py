"""A small RADIUS accounting client (RFC 2866): it builds Accounting-Requests as a NAS would and sends them over
UDP from the NAS's own source address, retransmitting until the server answers.

Only what the demo sends is encoded: strings, integers, IPv4 addresses, IPv6 prefixes and Event-Timestamp.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5

# Attribute types (RFC 2865, 2866, 2869, 3162, 4818).
USER_NAME = 1
NAS_IP_ADDRESS = 4
NAS_PORT = 5
SERVICE_TYPE = 6
FRAMED_PROTOCOL = 7
FRAMED_IP_ADDRESS = 8
CALLED_STATION_ID = 30
CALLING_STATION_ID = 31
NAS_IDENTIFIER = 32
ACCT_STATUS_TYPE = 40
ACCT_DELAY_TIME = 41
ACCT_INPUT_OCTETS = 42
ACCT_OUTPUT_OCTETS = 43
ACCT_SESSION_ID = 44
ACCT_AUTHENTIC = 45
ACCT_SESSION_TIME = 46
ACCT_INPUT_PACKETS = 47
ACCT_OUTPUT_PACKETS = 48
ACCT_TERMINATE_CAUSE = 49
ACCT_INPUT_GIGAWORDS = 52
ACCT_OUTPUT_GIGAWORDS = 53
EVENT_TIMESTAMP = 55
NAS_PORT_TYPE = 61
NAS_PORT_ID = 87
FRAMED_IPV6_PREFIX = 97
DELEGATED_IPV6_PREFIX = 123

START, STOP, INTERIM = 1, 2, 3
SERVICE_FRAMED, PROTOCOL_PPP, AUTHENTIC_RADIUS, PORT_TYPE_ETHERNET = 2, 1, 1, 15
TERMINATE_CAUSES = {"User-Request": 1, "Lost-Carrier": 2, "Idle-Timeout": 4, "Session-Timeout": 5,
                    "Admin-Reset": 6, "Port-Error": 8, "NAS-Request": 10}  # fmt: skip

_WORD = 1 << 32
Value = str | int | ipaddress.IPv4Address | ipaddress.IPv6Network


def _encode_value(value: Value) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, ipaddress.IPv4Address):
        return value.packed
    if isinstance(value, ipaddress.IPv6Network):  # RFC 3162: reserved, prefix length, the prefix's bytes
        significant = (value.prefixlen + 7) // 8
        return bytes((0, value.prefixlen)) + value.network_address.packed[:significant]
    return struct.pack("!I", value)


def encode_attributes(attributes: Iterable[tuple[int, Value]]) -> bytes:
    out = bytearray()
    for kind, value in attributes:
        data = _encode_value(value)
        if len(data) > 253:
            raise ValueError(f"attribute {kind} is longer than 253 bytes")
        out += bytes((kind, len(data) + 2)) + data
    return bytes(out)


def accounting_request(identifier: int, attributes: bytes, secret: bytes) -> bytes:
    """An Accounting-Request; its authenticator is MD5(Code + Identifier + Length + 16 zeros + Attributes + Secret)."""
    length = 20 + len(attributes)
    header = struct.pack("!BBH", ACCOUNTING_REQUEST, identifier, length)
    authenticator = hashlib.md5(header + bytes(16) + attributes + secret, usedforsecurity=False).digest()
    return header + authenticator + attributes


def response_ok(response: bytes, request: bytes, secret: bytes) -> bool:
    """An Accounting-Response to `request`, signed with `secret` (MD5 over it with the request's authenticator)."""
    if len(response) < 20 or response[0] != ACCOUNTING_RESPONSE or response[1] != request[1]:
        return False
    length = struct.unpack("!H", response[2:4])[0]
    signed = response[:4] + request[4:20] + response[20:length] + secret
    expected = hashlib.md5(signed, usedforsecurity=False).digest()
    return hmac.compare_digest(expected, response[4:20])


def split_octets(total: int) -> tuple[int, int]:
    """A 64-bit counter as (Gigawords, Octets): the NAS sends the overflow count of the 32-bit field apart."""
    return total // _WORD, total % _WORD


@dataclass(frozen=True)
class Report:
    """One accounting report of one session (Start, Interim-Update or Stop), as the NAS knows it at `time`."""

    status: int
    time: datetime
    session_time: int
    input_octets: int
    output_octets: int
    terminate_cause: str | None = None


@dataclass(frozen=True)
class SessionIdentity:
    username: str
    acct_session_id: str
    nas_port: int
    nas_port_id: str
    framed_ip: ipaddress.IPv4Address
    delegated_prefix: ipaddress.IPv6Network
    calling_station_id: str  # the subscriber's CPE MAC


def attributes_for(nas: NasIdentity, session: SessionIdentity, report: Report) -> bytes:
    in_words, in_octets = split_octets(report.input_octets)
    out_words, out_octets = split_octets(report.output_octets)
    attributes: list[tuple[int, Value]] = [
        (ACCT_STATUS_TYPE, report.status),
        (USER_NAME, session.username),
        (ACCT_SESSION_ID, session.acct_session_id),
        (NAS_IP_ADDRESS, nas.address),
        (NAS_IDENTIFIER, nas.identifier),
        (NAS_PORT, session.nas_port),
        (NAS_PORT_ID, session.nas_port_id),
        (NAS_PORT_TYPE, PORT_TYPE_ETHERNET),
        (SERVICE_TYPE, SERVICE_FRAMED),
        (FRAMED_PROTOCOL, PROTOCOL_PPP),
        (FRAMED_IP_ADDRESS, session.framed_ip),
        (DELEGATED_IPV6_PREFIX, session.delegated_prefix),
        (CALLING_STATION_ID, session.calling_station_id),
        (CALLED_STATION_ID, nas.identifier),
        (ACCT_AUTHENTIC, AUTHENTIC_RADIUS),
        (EVENT_TIMESTAMP, int(report.time.timestamp())),
        (ACCT_DELAY_TIME, 0),
    ]
    if report.status != START:
        attributes += [
            (ACCT_SESSION_TIME, report.session_time),
            (ACCT_INPUT_OCTETS, in_octets),
            (ACCT_INPUT_GIGAWORDS, in_words),
            (ACCT_OUTPUT_OCTETS, out_octets),
            (ACCT_OUTPUT_GIGAWORDS, out_words),
            # about 1,000 bytes a packet on average
            (ACCT_INPUT_PACKETS, min(report.input_octets // 1000, _WORD - 1)),
            (ACCT_OUTPUT_PACKETS, min(report.output_octets // 1000, _WORD - 1)),
        ]
    if report.status == STOP and report.terminate_cause:
        attributes.append((ACCT_TERMINATE_CAUSE, TERMINATE_CAUSES[report.terminate_cause]))
    return encode_attributes(attributes)


@dataclass(frozen=True)
class NasIdentity:
    nas_id: str  # the name radius-ingest knows it by
    identifier: str  # NAS-Identifier
    address: ipaddress.IPv4Address  # the source address it sends from (a loopback alias in the demo)
    secret: bytes


class NoAnswer(Exception):
    """The server did not answer a request after every retransmission."""


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: dict[int, tuple[bytes, asyncio.Future[bytes]]] = {}

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) >= 2 and data[1] in self.waiting:
            _, future = self.waiting[data[1]]
            if not future.done():
                future.set_result(data)


class NasClient:
    """One NAS: a UDP socket bound to its address; up to 255 requests in flight (one per RADIUS identifier)."""

    def __init__(self, nas: NasIdentity, server: tuple[str, int], *, timeout: float = 3.0, tries: int = 5) -> None:
        self.nas = nas
        self.server = server
        self.timeout = timeout
        self.tries = tries
        self.retransmissions = 0
        self._free: asyncio.Queue[int] = asyncio.Queue()
        for identifier in range(256):
            self._free.put_nowait(identifier)
        self._transport: asyncio.DatagramTransport | None = None
        self._endpoint = _Endpoint()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self._endpoint, local_addr=(str(self.nas.address), 0)
        )

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def send(self, attributes: bytes) -> None:
        """Send one Accounting-Request and wait for its verified Accounting-Response (retransmitting the very
        same datagram on timeout, as a NAS does, so the server answers it from its reply cache)."""
        assert self._transport is not None, "open() first"
        identifier = await self._free.get()
        try:
            request = accounting_request(identifier, attributes, self.nas.secret)
            for attempt in range(self.tries):
                future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
                self._endpoint.waiting[identifier] = (request, future)
                self._transport.sendto(request, self.server)
                try:
                    response = await asyncio.wait_for(future, self.timeout)
                except TimeoutError:
                    self.retransmissions += attempt < self.tries - 1
                    continue
                if response_ok(response, request, self.nas.secret):
                    return
            raise NoAnswer(f"{self.nas.nas_id}: no valid Accounting-Response after {self.tries} tries")
        finally:
            self._endpoint.waiting.pop(identifier, None)
            self._free.put_nowait(identifier)
