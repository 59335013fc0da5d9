"""RADIUS accounting events (produced by radius-ingest), keyed by subscriber username."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from bss_contracts import topics
from bss_contracts.envelope import DomainEvent

NasResetReason = Literal["accounting-on", "accounting-off"]
# The Acct-Terminate-Cause (RFC 2866 section 5.10) of a session its NAS ended without a Stop: every service that
# closes such a session names it with this table, so the cause is the same wherever the session is shown.
TERMINATE_CAUSE_OF_RESET: dict[NasResetReason, str] = {"accounting-on": "NAS-Reboot", "accounting-off": "NAS-Request"}


class _SessionEvent(DomainEvent):
    topic = topics.SESSIONS
    key_field = "username"

    session_key: str = Field(description="Unique per NAS and session (like FreeRADIUS's acct unique id)")
    acct_session_id: str
    username: str
    nas_id: str = Field(description="The NAS client's identifier as registered in radius-ingest")
    nas_ip_address: str
    nas_identifier: str | None = None
    nas_port: int | None = None
    nas_port_id: str | None = None
    nas_port_type: str | None = None
    framed_ip_address: str | None = None
    framed_ipv6_prefix: str | None = None
    delegated_ipv6_prefix: str | None = None
    calling_station_id: str | None = None
    called_station_id: str | None = None
    event_time: AwareDatetime = Field(description="Event-Timestamp, else arrival minus Acct-Delay-Time")
    session_start_time: AwareDatetime
    session_time_seconds: int = Field(ge=0)
    input_octets: int = Field(ge=0, description="64-bit: Acct-Input-Gigawords * 2^32 + Acct-Input-Octets")
    output_octets: int = Field(ge=0, description="64-bit: Acct-Output-Gigawords * 2^32 + Acct-Output-Octets")
    input_packets: int = Field(default=0, ge=0)
    output_packets: int = Field(default=0, ge=0)


class SessionStarted(_SessionEvent):
    event_type = "bss.radius.session.started"


class SessionUpdated(_SessionEvent):
    event_type = "bss.radius.session.updated"


class SessionStopped(_SessionEvent):
    event_type = "bss.radius.session.stopped"

    terminate_cause: str | None = None
    closed_by_nas_reset: NasResetReason | None = Field(
        default=None,
        description="Set when the NAS sent no Stop: radius-ingest closed the session because its NAS reset "
        "(Accounting-On/Off) at event_time, with the last counters it knew; null for a Stop the NAS sent",
    )


class _NasEvent(DomainEvent):
    topic = topics.NAS
    key_field = "nas_id"

    nas_id: str
    nas_ip_address: str
    nas_identifier: str | None = None
    event_time: AwareDatetime
    reason: NasResetReason

    @property
    def terminate_cause(self) -> str:
        """The cause given to every session this reset ends."""
        return TERMINATE_CAUSE_OF_RESET[self.reason]


class NasAccountingOn(_NasEvent):
    """The NAS (re)booted: every session still open on it is over."""

    event_type = "bss.radius.nas.accounting-on"


class NasAccountingOff(_NasEvent):
    """The NAS is going down: every session still open on it is over."""

    event_type = "bss.radius.nas.accounting-off"
