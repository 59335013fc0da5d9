"""Request/Response Authenticators (RFC 2866 §3, RFC 2865 §3) and Message-Authenticator (RFC 3579 §3.2).

Every comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac

from radius_ingest.protocol.packet import ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE, Packet

_ZERO16 = bytes(16)


def request_authenticator_ok(packet: Packet, secret: bytes) -> bool:
    """Accounting-Request: Authenticator = MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret)."""
    raw = packet.raw
    expected = hashlib.md5(raw[:4] + _ZERO16 + raw[20:] + secret, usedforsecurity=False).digest()
    return hmac.compare_digest(expected, packet.authenticator)


def message_authenticator_ok(packet: Packet, secret: bytes) -> bool:
    """HMAC-MD5 over the packet with the Message-Authenticator value zeroed (true when there is none).

    For Accounting-Request the Request Authenticator field counts as 16 zero octets (RFC 3579 §3.2, as
    FreeRADIUS computes it); for Status-Server it is the packet's own random authenticator.
    """
    offset = packet.message_authenticator_offset
    if offset < 0:
        return True
    raw = packet.raw
    received = raw[offset : offset + 16]
    if len(received) != 16:
        return False
    authenticator = _ZERO16 if packet.code == ACCOUNTING_REQUEST else raw[4:20]
    signed = raw[:4] + authenticator + raw[20:offset] + _ZERO16 + raw[offset + 16 :]
    expected = hmac.new(secret, signed, hashlib.md5).digest()
    return hmac.compare_digest(expected, received)


def accounting_response(identifier: int, request_authenticator: bytes, secret: bytes) -> bytes:
    """An Accounting-Response without attributes: MD5(Code + Identifier + Length + RequestAuth + Secret)."""
    header = bytes((ACCOUNTING_RESPONSE, identifier, 0, 20))
    digest = hashlib.md5(header + request_authenticator + secret, usedforsecurity=False).digest()
    return header + digest


def status_server_response(identifier: int, request_authenticator: bytes, secret: bytes) -> bytes:
    """The Accounting-Response to a Status-Server (RFC 5997 §3), signed with a Message-Authenticator."""
    length = 20 + 18
    header = bytes((ACCOUNTING_RESPONSE, identifier)) + length.to_bytes(2, "big")
    unsigned = header + request_authenticator + bytes((80, 18)) + _ZERO16
    signature = hmac.new(secret, unsigned, hashlib.md5).digest()
    attributes = bytes((80, 18)) + signature
    digest = hashlib.md5(header + request_authenticator + attributes + secret, usedforsecurity=False).digest()
    return header + digest + attributes
