"""From decoded accounting attributes to the events the service publishes (pure: no I/O).

Attributes arrive as {FreeRADIUS dictionary name: value} (integers for `integer`/`date`, text for the rest),
from the wire decoder or from a backfilled `detail` file, so that both produce the very same events.

`interpret` returns the event as plain data (times as whole epoch seconds, as RADIUS has them): the hot
path renders that straight to JSON (adapters.records.encode_accounting), and `Accounting.to_model()` gives
the contract's pydantic model of the same event (tests prove both agree field by field).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bss_contracts import DomainEvent
from bss_contracts.events.radius import (
    NasAccountingOff,
    NasAccountingOn,
    SessionStarted,
    SessionStopped,
    SessionUpdated,
)
from radius_ingest.domain.nas import NasClient
from radius_ingest.protocol.dictionary import RadiusDictionary

# Fixed namespace of this service's deterministic event ids (uuid5).
EVENT_ID_NAMESPACE = "6f0b8a52-3c1e-5d8e-9a57-2f4d1c0e7b31"
_NAMESPACE_BYTES = bytes.fromhex(EVENT_ID_NAMESPACE.replace("-", ""))

START, STOP, INTERIM = "Start", "Stop", "Interim-Update"
ACCOUNTING_ON, ACCOUNTING_OFF = "Accounting-On", "Accounting-Off"
SessionEvent = type[SessionStarted] | type[SessionUpdated] | type[SessionStopped]
NasEvent = type[NasAccountingOn] | type[NasAccountingOff]
SESSION_MODELS: dict[str, SessionEvent] = {START: SessionStarted, INTERIM: SessionUpdated, STOP: SessionStopped}
NAS_MODELS: dict[str, tuple[NasEvent, str]] = {
    ACCOUNTING_ON: (NasAccountingOn, "accounting-on"),
    ACCOUNTING_OFF: (NasAccountingOff, "accounting-off"),
}
TIME_FIELDS = frozenset({"event_time", "session_start_time"})  # epoch seconds in `Accounting.data`

# The dictionary attributes this module reads (the wire decoder decodes only these).
ATTRIBUTES_READ = (
    "Acct-Status-Type", "Acct-Session-Id", "User-Name", "NAS-IP-Address", "NAS-IPv6-Address", "NAS-Identifier",
    "NAS-Port", "NAS-Port-Id", "NAS-Port-Type", "Framed-IP-Address", "Framed-IPv6-Prefix", "Delegated-IPv6-Prefix",
    "Calling-Station-Id", "Called-Station-Id", "Event-Timestamp", "Acct-Delay-Time", "Acct-Session-Time",
    "Acct-Input-Octets", "Acct-Input-Gigawords", "Acct-Output-Octets", "Acct-Output-Gigawords",
    "Acct-Input-Packets", "Acct-Output-Packets", "Acct-Terminate-Cause",
)  # fmt: skip
_WORD = 1 << 32


class NotAccounting(ValueError):
    """The request cannot be turned into an event (e.g. no Acct-Status-Type): it is discarded, not answered."""


@dataclass(frozen=True, slots=True)
class Accounting:
    model: type[DomainEvent]
    event_id: str
    event_time: int  # epoch seconds
    key: str  # the Kafka record key (username, or nas_id for NAS events)
    data: dict[str, Any]  # the event's fields; TIME_FIELDS as epoch seconds

    def to_model(self) -> DomainEvent:
        values = {k: (_utc(v) if k in TIME_FIELDS else v) for k, v in self.data.items()}
        return self.model(**values)

    @property
    def time(self) -> datetime:
        return _utc(self.event_time)


@dataclass(frozen=True, slots=True)
class AccountingEvent:
    """A contract model with its deterministic id (for the outbox and tests)."""

    event: DomainEvent
    event_id: str
    time: datetime


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def event_uuid(identity: str) -> str:
    """uuid5(EVENT_ID_NAMESPACE, identity) as text, computed without the uuid module's overhead."""
    h = hashlib.sha1(_NAMESPACE_BYTES + identity.encode(), usedforsecurity=False).hexdigest()
    variant = "89ab"[int(h[16], 16) & 0x3]
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def session_key(tenant_id: str, nas_id: str, nas_ip: str, username: str, acct_session_id: str, port: str) -> str:
    """Unique per NAS and session, like FreeRADIUS's Acct-Unique-Session-Id (an MD5 over the session's identity),
    scoped by tenant and registered NAS so that two tenants' NAS can never collide."""
    identity = f"{tenant_id},{nas_id},{nas_ip},{username},{acct_session_id},{port}"
    return hashlib.md5(identity.encode(), usedforsecurity=False).hexdigest()


def event_time(attributes: Mapping[str, Any], arrival: float) -> int:
    """Event-Timestamp when the NAS sent one, else the arrival time minus Acct-Delay-Time (RFC 2866 §5.2).
    RADIUS times are whole seconds: so is this one."""
    stamp = attributes.get("Event-Timestamp")
    if stamp is not None:
        return int(stamp)
    return int(arrival) - int(attributes.get("Acct-Delay-Time", 0))


def interpret(
    attributes: Mapping[str, Any],
    client: NasClient,
    source_ip: str,
    arrival: float,
    dictionary: RadiusDictionary,
) -> Accounting | None:
    """The event for one Accounting-Request; None for status types that carry no session data (to be acked)."""
    status_code = attributes.get("Acct-Status-Type")
    if status_code is None:
        raise NotAccounting("no Acct-Status-Type")
    status = dictionary.value_name("Acct-Status-Type", status_code)
    nas_ip = attributes.get("NAS-IP-Address") or attributes.get("NAS-IPv6-Address") or source_ip
    when = event_time(attributes, arrival)
    if status in SESSION_MODELS:
        return _session(status, attributes, client, nas_ip, when, dictionary)
    if status in NAS_MODELS:
        model, reason = NAS_MODELS[status]
        data = {
            "nas_id": client.nas_id,
            "nas_ip_address": nas_ip,
            "nas_identifier": attributes.get("NAS-Identifier"),
            "event_time": when,
            "reason": reason,
        }
        identity = f"{client.tenant_id}|{client.nas_id}|{nas_ip}|{reason}|{when}"
        return Accounting(model, event_uuid(identity), when, client.nas_id, data)
    return None  # Failed, Tunnel-*: acknowledged, nothing to report


def _session(
    status: str,
    a: Mapping[str, Any],
    client: NasClient,
    nas_ip: str,
    when: int,
    dictionary: RadiusDictionary,
) -> Accounting:
    username = a.get("User-Name", "")
    acct_session_id = a.get("Acct-Session-Id", "")
    nas_port = a.get("NAS-Port")
    nas_port_id = a.get("NAS-Port-Id")
    port = nas_port_id if nas_port_id is not None else ("" if nas_port is None else str(nas_port))
    key = session_key(client.tenant_id, client.nas_id, nas_ip, username, acct_session_id, port)
    session_time = a.get("Acct-Session-Time", 0)
    input_octets = a.get("Acct-Input-Gigawords", 0) * _WORD + a.get("Acct-Input-Octets", 0)
    output_octets = a.get("Acct-Output-Gigawords", 0) * _WORD + a.get("Acct-Output-Octets", 0)
    input_packets = a.get("Acct-Input-Packets", 0)
    output_packets = a.get("Acct-Output-Packets", 0)
    port_type = a.get("NAS-Port-Type")
    data: dict[str, Any] = {
        "session_key": key,
        "acct_session_id": acct_session_id,
        "username": username,
        "nas_id": client.nas_id,
        "nas_ip_address": nas_ip,
        "nas_identifier": a.get("NAS-Identifier"),
        "nas_port": nas_port,
        "nas_port_id": nas_port_id,
        "nas_port_type": None if port_type is None else dictionary.value_name("NAS-Port-Type", port_type),
        "framed_ip_address": a.get("Framed-IP-Address"),
        "framed_ipv6_prefix": a.get("Framed-IPv6-Prefix"),
        "delegated_ipv6_prefix": a.get("Delegated-IPv6-Prefix"),
        "calling_station_id": a.get("Calling-Station-Id"),
        "called_station_id": a.get("Called-Station-Id"),
        "event_time": when,
        "session_start_time": when - session_time,
        "session_time_seconds": session_time,
        "input_octets": input_octets,
        "output_octets": output_octets,
        "input_packets": input_packets,
        "output_packets": output_packets,
    }
    if status == STOP:
        cause = a.get("Acct-Terminate-Cause")
        data["terminate_cause"] = (
            None if cause is None else dictionary.value_name("Acct-Terminate-Cause", cause) or str(cause)
        )
    # No event time in the identity: an application-level resend recomputes arrival minus Acct-Delay-Time
    # and may land a second off. The NAS's own session time and counters identify the report exactly.
    identity = (
        f"{client.tenant_id}|{key}|{status}|{session_time}|{input_octets}|{output_octets}"
        f"|{input_packets}|{output_packets}"
    )
    return Accounting(SESSION_MODELS[status], event_uuid(identity), when, username, data)


def to_event(
    attributes: Mapping[str, Any],
    client: NasClient,
    source_ip: str,
    arrival: float,
    dictionary: RadiusDictionary,
) -> AccountingEvent | None:
    """`interpret`, as the contract's pydantic model (validated)."""
    accounting = interpret(attributes, client, source_ip, arrival, dictionary)
    if accounting is None:
        return None
    return AccountingEvent(accounting.to_model(), accounting.event_id, accounting.time)
