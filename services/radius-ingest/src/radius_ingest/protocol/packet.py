"""RADIUS packet framing (RFC 2865 §3, §5) and attribute decoding driven by the dictionary.

`parse` never raises anything but `MalformedPacket` for bad input: a too short datagram, a Length field out
of range or longer than the datagram, an attribute shorter than its header or running past Length. Bytes
after Length are padding and ignored (RFC 2865 §3).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from radius_ingest.protocol.dictionary import AttributeSpec, RadiusDictionary

ACCESS_REQUEST = 1
ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5
STATUS_SERVER = 12

HEADER_LENGTH = 20
MAX_PACKET_LENGTH = 4096
VENDOR_SPECIFIC = 26
MESSAGE_AUTHENTICATOR = 80


class MalformedPacket(ValueError):
    """The datagram is not a well-formed RADIUS packet: it is discarded."""


@dataclass(slots=True)
class Packet:
    code: int
    identifier: int
    authenticator: bytes
    raw: bytes  # exactly Length bytes: what the authenticators are computed over
    attributes: dict[int, bytes]  # first occurrence of each attribute type
    message_authenticator_offset: int = -1  # where Message-Authenticator's value starts in `raw`
    vendor_specific: int = 0  # Vendor-Specific attributes seen (not decoded)
    repeated: list[tuple[int, bytes]] = field(default_factory=list)  # later occurrences, kept for completeness


def parse(datagram: bytes) -> Packet:
    size = len(datagram)
    if size < HEADER_LENGTH:
        raise MalformedPacket(f"{size} bytes is shorter than a RADIUS header")
    length = int.from_bytes(datagram[2:4], "big")
    if length < HEADER_LENGTH or length > MAX_PACKET_LENGTH:
        raise MalformedPacket(f"Length {length} is outside 20..4096")
    if size < length:
        raise MalformedPacket(f"Length {length} but only {size} bytes arrived")
    raw = datagram[:length] if size > length else datagram
    attributes: dict[int, bytes] = {}
    packet = Packet(datagram[0], datagram[1], raw[4:20], raw, attributes)
    position = HEADER_LENGTH
    while position < length:
        if position + 2 > length:
            raise MalformedPacket(f"attribute header truncated at offset {position}")
        kind = raw[position]
        attr_length = raw[position + 1]
        if attr_length < 2 or position + attr_length > length:
            raise MalformedPacket(f"attribute {kind} at offset {position} has length {attr_length}")
        value = raw[position + 2 : position + attr_length]
        if kind == VENDOR_SPECIFIC:
            packet.vendor_specific += 1
        elif kind in attributes:
            packet.repeated.append((kind, value))
        else:
            attributes[kind] = value
            if kind == MESSAGE_AUTHENTICATOR:
                packet.message_authenticator_offset = position + 2
        position += attr_length
    return packet


# --- values by FreeRADIUS data type -----------------------------------------------------------------


def _integer(value: bytes) -> int:
    if len(value) != 4:
        raise ValueError("integer attributes are 4 bytes")
    return int.from_bytes(value, "big")


def _integer64(value: bytes) -> int:
    if len(value) != 8:
        raise ValueError("integer64 attributes are 8 bytes")
    return int.from_bytes(value, "big")


def _string(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _ipaddr(value: bytes) -> str:
    if len(value) != 4:
        raise ValueError("ipaddr attributes are 4 bytes")
    return socket.inet_ntop(socket.AF_INET, value)


def _ipv6addr(value: bytes) -> str:
    if len(value) != 16:
        raise ValueError("ipv6addr attributes are 16 bytes")
    return socket.inet_ntop(socket.AF_INET6, value)


def _ipv6prefix(value: bytes) -> str:
    # RFC 3162 §2.3: reserved byte, prefix length, then only as many prefix bytes as needed.
    if len(value) < 2 or len(value) > 18 or value[1] > 128:
        raise ValueError("malformed ipv6prefix")
    address = socket.inet_ntop(socket.AF_INET6, value[2:].ljust(16, b"\0"))
    return f"{address}/{value[1]}"


def _octets(value: bytes) -> str:
    return "0x" + value.hex()


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "integer": _integer,
    "date": _integer,  # seconds since the epoch
    "integer64": _integer64,
    "string": _string,
    "ipaddr": _ipaddr,
    "ipv6addr": _ipv6addr,
    "ipv6prefix": _ipv6prefix,
    "octets": _octets,
}


class AttributeDecoder:
    """Turns a packet's attributes into {dictionary name: Python value}, from the dictionary's types.

    `wanted` limits decoding to the attributes the caller reads (the rest are known to the dictionary and
    simply not needed); attributes the dictionary does not know, Vendor-Specific ones and values of the
    wrong size for their type are counted as skipped.
    """

    def __init__(self, dictionary: RadiusDictionary, wanted: Iterable[str] | None = None) -> None:
        self.dictionary = dictionary
        names = set(dictionary.by_name) if wanted is None else set(wanted)
        unknown = names - set(dictionary.by_name)
        if unknown:
            raise KeyError(f"not in the FreeRADIUS dictionaries: {sorted(unknown)}")
        self._integers: dict[int, str] = {}  # the common case, decoded inline
        self._others: dict[int, tuple[str, Callable[[bytes], Any]]] = {}
        for code, spec in dictionary.by_code.items():
            if spec.name not in names:
                continue
            if spec.type in ("integer", "date"):
                self._integers[code] = spec.name
            else:
                self._others[code] = (spec.name, DECODERS.get(spec.type, _octets))
        self._known = frozenset(dictionary.by_code)

    def spec(self, name: str) -> AttributeSpec:
        return self.dictionary.by_name[name]

    def decode(self, packet: Packet) -> tuple[dict[str, Any], int]:
        """The decoded attributes and how many were skipped (unknown to the dictionary or malformed)."""
        out: dict[str, Any] = {}
        skipped = packet.vendor_specific
        integers, others, from_bytes = self._integers, self._others, int.from_bytes
        for code, value in packet.attributes.items():
            name = integers.get(code)
            if name is not None:
                if len(value) == 4:
                    out[name] = from_bytes(value, "big")
                else:
                    skipped += 1
                continue
            entry = others.get(code)
            if entry is None:
                if code not in self._known:
                    skipped += 1
                continue
            try:
                out[entry[0]] = entry[1](value)
            except ValueError:
                skipped += 1
        return out, skipped
