"""Codec, authenticators, dictionary and event mapping, without I/O."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest

from bss_contracts import Envelope, RawEnvelope
from bss_contracts.events.radius import SessionStopped, SessionUpdated
from radius_ingest.adapters.records import encode, encode_accounting
from radius_ingest.domain.accounting import EVENT_ID_NAMESPACE, event_uuid, interpret, to_event
from radius_ingest.domain.nas import NasClient, NasDirectory
from radius_ingest.protocol.authenticators import (
    accounting_response,
    message_authenticator_ok,
    request_authenticator_ok,
)
from radius_ingest.protocol.packet import AttributeDecoder, MalformedPacket, parse

from .support import DICTIONARY, GIGA, SECRET, accounting_request

CLIENT = NasClient("acme", "bras-1", "192.0.2.0/24", SECRET.encode())


def test_the_dictionary_comes_from_freeradius() -> None:
    status = DICTIONARY.by_name["Acct-Status-Type"]
    assert status.code == 40 and status.type == "integer"
    assert status.values[3] == "Interim-Update" and status.values[7] == "Accounting-On"
    assert DICTIONARY.by_name["Acct-Input-Gigawords"].code == 52
    assert DICTIONARY.by_name["Event-Timestamp"].type == "date"
    assert DICTIONARY.by_name["Delegated-IPv6-Prefix"].type == "ipv6prefix"
    assert DICTIONARY.value_name("Acct-Terminate-Cause", 11) == "NAS-Reboot"


def test_parse_checks_framing_and_ignores_padding() -> None:
    good = accounting_request(1, SECRET, [("User-Name", "u"), ("Acct-Status-Type", "Start")])
    packet = parse(good + b"\x00\x00junk")
    assert packet.raw == good and packet.identifier == 1 and request_authenticator_ok(packet, SECRET.encode())
    for broken in (
        good[:19],
        good[:2] + (len(good) + 1).to_bytes(2, "big") + good[4:],
        good[:2] + (19).to_bytes(2, "big") + good[4:],
        good[:20] + b"\x01\x01" + good[22:],
        good[:20] + b"\x01\xff" + good[22:],
        good + b"\x05",  # fits the datagram, but a header byte past Length is padding: still valid
    ):
        if broken.startswith(good):
            assert parse(broken).raw == good
            continue
        with pytest.raises(MalformedPacket):
            parse(broken)


def test_authenticators() -> None:
    request = accounting_request(9, SECRET, [("User-Name", "u"), ("Acct-Status-Type", "Stop")])
    packet = parse(request)
    assert request_authenticator_ok(packet, SECRET.encode())
    assert not request_authenticator_ok(packet, b"other")
    reply = accounting_response(9, packet.authenticator, SECRET.encode())
    assert reply[:4] == b"\x05\x09\x00\x14"
    assert reply[4:] == hashlib.md5(reply[:4] + packet.authenticator + SECRET.encode()).digest()
    signed = parse(accounting_request(3, SECRET, [("User-Name", "u")], message_authenticator="valid"))
    forged = parse(accounting_request(3, SECRET, [("User-Name", "u")], message_authenticator="wrong"))
    assert message_authenticator_ok(signed, SECRET.encode()) and not message_authenticator_ok(forged, SECRET.encode())


def _event(attributes: list[tuple[str, object]], arrival: float = 1767225600.7) -> tuple[object, str]:
    decoded, skipped = AttributeDecoder(DICTIONARY).decode(parse(accounting_request(1, SECRET, attributes)))
    assert skipped == 0
    result = to_event(decoded, CLIENT, "192.0.2.7", arrival, DICTIONARY)
    assert result is not None
    return result.event, result.event_id


def test_gigawords_make_exact_64_bit_counters_and_delay_sets_the_time() -> None:
    event, _ = _event([
        ("User-Name", "u1"), ("Acct-Session-Id", "s"), ("Acct-Status-Type", "Interim-Update"),
        ("Acct-Input-Octets", 4294967295), ("Acct-Input-Gigawords", 4294967295),
        ("Acct-Output-Octets", 1), ("Acct-Output-Gigawords", 3), ("Acct-Session-Time", 60), ("Acct-Delay-Time", 10),
    ])  # fmt: skip
    assert isinstance(event, SessionUpdated)
    assert event.input_octets == (1 << 64) - 1 and event.output_octets == 3 * GIGA + 1
    assert event.event_time == datetime.fromtimestamp(1767225600 - 10, UTC)
    assert event.nas_ip_address == "192.0.2.7"  # no NAS-IP-Address: the source address


def test_a_resend_has_the_same_event_id_and_other_sessions_do_not() -> None:
    fields: list[tuple[str, object]] = [("User-Name", "u"), ("Acct-Session-Id", "s"), ("Acct-Status-Type", "Stop"),
                                        ("Acct-Session-Time", 30), ("Acct-Input-Octets", 5)]  # fmt: skip
    first = _event([*fields, ("Acct-Delay-Time", 0)], arrival=1000.2)
    resend = _event([*fields, ("Acct-Delay-Time", 4)], arrival=1004.9)
    other = _event([*fields[:1], ("Acct-Session-Id", "t"), *fields[2:]])
    assert first[1] == resend[1] != other[1]
    assert isinstance(first[0], SessionStopped) and first[0].session_key != other[0].session_key  # type: ignore[attr-defined]


def test_event_ids_are_uuid5() -> None:
    for identity in ("", "a|b|Start|0|0|0|0|0", "ü" * 300):
        assert event_uuid(identity) == str(uuid.uuid5(uuid.UUID(EVENT_ID_NAMESPACE), identity))


ODD_VALUES: list[list[tuple[str, object]]] = [
    [("User-Name", "ü@isp"), ("Acct-Session-Id", 's"1\\'), ("Acct-Status-Type", "Start")],
    [("User-Name", "tab\tnew\nline\x01"), ("Acct-Status-Type", "Stop"), ("Acct-Terminate-Cause", 11),
     ("NAS-Port", 4294967295), ("Acct-Session-Time", 4294967295), ("Event-Timestamp", 0)],
    [("Acct-Status-Type", "Interim-Update"), ("NAS-Port-Type", 4000), ("Acct-Terminate-Cause", 99)],
    [("Acct-Status-Type", "Stop"), ("Acct-Terminate-Cause", 999), ("Framed-IP-Address", "100.64.0.1")],
    [("Acct-Status-Type", "Accounting-On"), ("NAS-Identifier", "bras \"east\"")],
    [("Acct-Status-Type", "Accounting-Off"), ("NAS-IP-Address", "192.0.2.99"), ("Acct-Delay-Time", 30)],
]  # fmt: skip


@pytest.mark.parametrize("attributes", ODD_VALUES)
def test_the_hot_path_encoder_writes_the_contract_envelope(attributes: list[tuple[str, object]]) -> None:
    decoded, _ = AttributeDecoder(DICTIONARY).decode(parse(accounting_request(1, SECRET, attributes)))
    accounting = interpret(decoded, CLIENT, "192.0.2.7", 1767225600.9, DICTIONARY)
    assert accounting is not None
    fast = encode_accounting(accounting, tenant_id="acme", source="/services/radius-ingest")
    model = accounting.to_model()  # validated by the contract
    reference = encode(model, event_id=accounting.event_id, tenant_id="acme", time=accounting.time,
                       source="/services/radius-ingest")  # fmt: skip
    assert fast == reference  # byte for byte, headers and key included
    expected = Envelope.wrap(model, source="/services/radius-ingest", tenant_id="acme", time=accounting.time,
                             event_id=uuid.UUID(accounting.event_id))  # fmt: skip
    assert RawEnvelope.model_validate_json(fast.value) == RawEnvelope.model_validate_json(expected.model_dump_json())
    assert dict(fast.headers) == {k: v.encode() for k, v in expected.headers().items()}


def test_nas_directory_prefers_the_longest_prefix() -> None:
    wide = NasClient("t1", "pop", "10.0.0.0/8", b"a")
    narrow = NasClient("t2", "bras", "10.1.0.0/16", b"b")
    host = NasClient("t3", "one", "10.1.2.3/32", b"c")
    directory = NasDirectory([wide, narrow, host])
    assert directory.lookup("10.1.2.3") is host
    assert directory.lookup("10.1.9.9") is narrow
    assert directory.lookup("10.200.0.1") is wide
    assert directory.lookup("192.0.2.1") is None
