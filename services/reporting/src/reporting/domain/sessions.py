"""How RADIUS accounting events fold into one row per session.

- Counters only move forward: of two Started/Updated events, the one with the later event_time wins.
- A Stop is final: it sets the final counters, and nothing after it changes the session.
- A NAS that reboots (Accounting-On) or goes down (Accounting-Off) ends every session it had open. A session
  whose NAS reset after the session started, and that has no Stop, is closed at the earliest such reset
  (as FreeRADIUS does), with the cause the contracts give that reset (`TERMINATE_CAUSE_OF_RESET`:
  NAS-Reboot for Accounting-On, NAS-Request for Accounting-Off). Because this is a rule over the set of
  events rather than a reaction to their order, it gives the same row whichever of the two topics is read
  first; and a late real Stop still replaces the NAS's guess.
- The Stop radius-ingest publishes for such a session (`closed_by_nas_reset`) is the same fact seen from
  the other topic: it counts as the NAS's reset plus the session's last counters, never as a Stop, so the
  row reads `stopped_by: nas` whichever arrives first, and does not flip.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

StopSource = Literal["stop", "nas"]
# session_start_time is computed by the NAS or radius-ingest and may differ by seconds between the events of
# one session; the row keeps the first one, and is found again within this window.
START_DRIFT = timedelta(days=1)


class SessionRow(NamedTuple):
    """One session's row (a tuple: built, compared and copied at C speed, thousands per batch)."""

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
        return (
            incoming if incoming.start_time == current.start_time else incoming._replace(start_time=current.start_time)
        )
    if incoming.event_time <= current.event_time:
        return None
    if incoming.start_time == current.start_time and current.stop_source is None:
        return incoming  # nothing of the current row to keep
    return incoming._replace(
        start_time=current.start_time,
        stop_source=current.stop_source,
        stop_time=current.stop_time,
        terminate_cause=current.terminate_cause,
    )


class NasReset(NamedTuple):
    at: datetime
    terminate_cause: str  # what the sessions it ends are closed with


def close_by_nas(row: SessionRow, earliest_reset_after_start: NasReset | None) -> SessionRow:
    """Apply the NAS rule: `earliest_reset_after_start` is the first reset of row's NAS after it started."""
    if row.stop_source == "stop":
        return row
    if earliest_reset_after_start is None:
        if row.stop_source is None and row.stop_time is None and row.terminate_cause is None:
            return row
        return row._replace(stop_source=None, stop_time=None, terminate_cause=None)
    at, cause = earliest_reset_after_start
    return row._replace(stop_source="nas", stop_time=at, terminate_cause=cause)


@dataclass(frozen=True)
class RowChange:
    """One session row a batch of events changed: as stored before (None: new) and after."""

    tenant_id: str
    before: SessionRow | None
    after: SessionRow


# (tenant, nas_id, session start) -> the NAS's first reset after that start, if any
ResetLookup = Callable[[str, str, datetime], NasReset | None]


def fold(
    stored: Iterable[tuple[str, SessionRow]], incoming: Iterable[tuple[str, SessionRow]], first_reset: ResetLookup
) -> list[RowChange]:
    """Apply events (as rows, in order) to the stored rows they concern, one after the other exactly as if each
    were applied alone, and return the net change of every row: a batch of events becomes one write per row."""
    rows: dict[tuple[str, str], list[SessionRow]] = {}
    before: dict[tuple[str, str, datetime], SessionRow | None] = {}
    for tenant, row in stored:
        rows.setdefault((tenant, row.session_key), []).append(row)
        before[(tenant, row.session_key, row.start_time)] = row
    for tenant, event in incoming:
        candidates = rows.setdefault((tenant, event.session_key), [])
        index = next((i for i, r in enumerate(candidates) if abs(r.start_time - event.start_time) <= START_DRIFT), None)
        current = None if index is None else candidates[index]
        merged = merge(current, event)
        if merged is None:
            continue
        merged = close_by_nas(merged, first_reset(tenant, merged.nas_id, merged.start_time))
        if merged == current:
            continue
        if index is None:
            candidates.append(merged)
            before.setdefault((tenant, merged.session_key, merged.start_time), None)
        else:
            candidates[index] = merged
    changes = []
    for (tenant, _), kept in rows.items():
        for row in kept:
            old = before[(tenant, row.session_key, row.start_time)]
            if row != old:
                changes.append(RowChange(tenant, old, row))
    return changes


def reset_lookup(resets: Iterable[tuple[str, str, NasReset]]) -> ResetLookup:
    """A `ResetLookup` over known (tenant, nas_id, reset) triples. Of two resets at the same instant, the
    one whose cause sorts first wins, so the answer does not depend on the order they were read in."""
    by_nas: dict[tuple[str, str], list[NasReset]] = {}
    for tenant, nas_id, reset in resets:
        by_nas.setdefault((tenant, nas_id), []).append(reset)
    for found in by_nas.values():
        found.sort()

    def first_after(tenant: str, nas_id: str, start: datetime) -> NasReset | None:
        found: Sequence[NasReset] = by_nas.get((tenant, nas_id), ())
        i = bisect_right(found, start, key=lambda reset: reset.at)
        return found[i] if i < len(found) else None

    return first_after
