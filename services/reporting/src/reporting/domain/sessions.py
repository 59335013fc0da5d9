"""How RADIUS accounting events fold into one row per session.

- Counters only move forward: of two Started/Updated events, the one with the later event_time wins.
- A Stop is final: it sets the final counters, and nothing after it changes the session.
- A NAS that reboots (Accounting-On) or goes down (Accounting-Off) ends every session it had open. A session
  whose NAS reset after the session started, and that has no Stop, is closed at the earliest such reset
  (as FreeRADIUS does, with cause NAS-Reboot). Because this is a rule over the set of events rather than a
  reaction to their order, it gives the same row whichever of the two topics is read first; and a late
  real Stop still replaces the NAS's guess.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

StopSource = Literal["stop", "nas"]
NAS_RESET_CAUSE = "NAS-Reboot"


@dataclass(frozen=True)
class SessionRow:
    session_key: str
    start_time: datetime  # the partition key: the first start time seen for the session, never changed
    username: str
    acct_session_id: str
    nas_id: str
    nas_ip_address: str
    framed_ip_address: str | None
    framed_ipv6_prefix: str | None
    delegated_ipv6_prefix: str | None
    calling_station_id: str | None
    event_time: datetime  # of the event the counters come from
    session_time_seconds: int
    input_octets: int
    output_octets: int
    stop_source: StopSource | None = None
    stop_time: datetime | None = None
    terminate_cause: str | None = None

    @property
    def time(self) -> datetime:
        """The session's latest accounting record: its stop, else its last update."""
        return self.stop_time or self.event_time


def merge(current: SessionRow | None, incoming: SessionRow) -> SessionRow | None:
    """The row after `incoming` (built from one event), or None when the event changes nothing."""
    if current is None:
        return incoming
    if current.stop_source == "stop":
        return None
    if incoming.stop_source == "stop":
        return replace(incoming, start_time=current.start_time)
    if incoming.event_time <= current.event_time:
        return None
    return replace(
        incoming,
        start_time=current.start_time,
        stop_source=current.stop_source,
        stop_time=current.stop_time,
        terminate_cause=current.terminate_cause,
    )


def close_by_nas(row: SessionRow, earliest_reset_after_start: datetime | None) -> SessionRow:
    """Apply the NAS rule: `earliest_reset_after_start` is the first reset of row's NAS after it started."""
    if row.stop_source == "stop":
        return row
    if earliest_reset_after_start is None:
        return replace(row, stop_source=None, stop_time=None, terminate_cause=None)
    return replace(row, stop_source="nas", stop_time=earliest_reset_after_start, terminate_cause=NAS_RESET_CAUSE)
