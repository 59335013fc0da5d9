"""GET /analytics/support/tickets/{id}/sessions against the real service: a ticket's events and its lines' RADIUS
sessions through Kafka, and the answer checked against the sessions sent here: open now (not stopped, not
stale), recent (started in the window, newest first), the window's sums with counters past 4 GiB; a line of
another subscriber left out; another tenant's ticket 404; bad input 422 naming the field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bss_contracts import DomainEvent
from bss_contracts.events import support as ev
from reporting.tickets.entrypoints.schemas import TicketSessionsOut

from .bi_support import BiHarness
from .reporting_support import customer, new_tenant, session_event, subscriber

pytestmark = pytest.mark.timeout(300)

NOW = datetime.now(UTC).replace(microsecond=0)
GIB = 2**30
PATH = "/analytics/support/tickets/{}/sessions"


@dataclass(frozen=True)
class Sent:
    """One session as the NAS reported it: a Start, then an Interim-Update at `last` (open) or a Stop at `last`."""

    key: str
    username: str
    start: timedelta  # before NOW
    last: timedelta  # before NOW
    stopped: bool
    octets_in: int
    octets_out: int
    nas_id: str
    cause: str | None = None

    def events(self, tenant: str) -> list[DomainEvent]:
        start, last = NOW - self.start, NOW - self.last
        seconds = int((last - start).total_seconds())
        key = f"{tenant}-{self.key}"
        common: dict[str, Any] = {"start": start, "nas_id": self.nas_id}
        return [
            session_event("start", key, self.username, when=start, **common),
            session_event(
                "stop" if self.stopped else "update", key, self.username, when=last, seconds=seconds,
                octets_in=self.octets_in, octets_out=self.octets_out, cause=self.cause, **common,
            ),
        ]  # fmt: skip

    def shown(self, tenant: str, *, recent: bool) -> dict[str, Any]:
        """What the endpoint shows of it: as an open session, or as a recent one."""
        start, last = NOW - self.start, NOW - self.last
        out: dict[str, Any] = {
            "session_key": f"{tenant}-{self.key}", "session_id": f"acct-{tenant}-{self.key}", "start_time": start,
            "last_update": last, "nas_id": self.nas_id, "nas_ip_address": "10.0.1.1",
            "framed_ip_address": "100.64.1.123", "session_duration_seconds": int((last - start).total_seconds()),
            "input_octets": self.octets_in, "output_octets": self.octets_out,
        }  # fmt: skip
        if recent:
            stop = last if self.stopped else None
            out |= {"stop_time": stop, "stopped_by": "stop" if self.stopped else None, "terminate_cause": self.cause}
        else:
            out["framed_ipv6_prefix"] = "2001:db8::1/128"
        return out


SENT = [
    Sent("a-open", "a@isp", timedelta(hours=2), timedelta(minutes=5), False, 5 * GIB + 17, 123, "nas-1"),
    Sent(
        "a-short",
        "a@isp",
        timedelta(days=2),
        timedelta(days=2) - timedelta(seconds=40),
        True,
        900,
        1_200,
        "nas-2",
        "Lost-Carrier",
    ),
    Sent("a-old", "a@isp", timedelta(days=10), timedelta(days=9), True, 7, 8, "nas-1", "User-Request"),
    Sent("a-stale", "a@isp", timedelta(days=1), timedelta(hours=3), False, 50, 60, "nas-1"),
    Sent("b-long", "b@isp", timedelta(days=9), timedelta(minutes=10), False, 4 * GIB + 1, 2 * GIB, "nas-2"),
    Sent(
        "b-big",
        "b@isp",
        timedelta(days=3),
        timedelta(days=3) - timedelta(hours=5),
        True,
        9 * GIB + 5,
        4 * GIB + 3,
        "nas-2",
        "Idle-Timeout",
    ),
    Sent("x-open", "x@isp", timedelta(hours=1), timedelta(minutes=1), False, 11, 22, "nas-1"),
]
BY_KEY = {s.key: s for s in SENT}


def opened(ticket_id: str, subscribers: tuple[str, ...]) -> list[DomainEvent]:
    common: dict[str, Any] = {"ticket_id": ticket_id, "customer_id": "c-1", "ticket_type": "fault", "priority": "high"}
    at = NOW - timedelta(hours=1)
    return [
        ev.TicketOpened(
            **common, subject="line down", status="new", channel="phone", subscriber_ids=subscribers,
            response_due_at=at + timedelta(hours=1), resolution_due_at=at + timedelta(hours=8), opened_at=at,
        ),
        ev.TicketStatusChanged(**common, previous_status="new", status="open", changed_at=at),
    ]  # fmt: skip


def moment(value: Any) -> Any:
    """The answer's datetimes as datetimes (the test's values are aware UTC)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def parsed(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: moment(v) if k in {"start_time", "last_update", "stop_time"} else v for k, v in s.items()}
            for s in sessions]  # fmt: skip


@pytest.fixture(scope="module")
async def seeded(bi: BiHarness) -> tuple[BiHarness, str, str]:
    """One tenant with the ticket, its lines and their sessions; another tenant with a ticket of its own."""
    tenant, other = new_tenant(), new_tenant()
    seed: list[tuple[DomainEvent, str]] = [(customer("c-1", "Line Ltd"), tenant), (customer("c-1", "Other"), other)]
    seed += [(subscriber(s, "c-1", f"{u}@isp"), tenant) for s, u in (("s-a", "a"), ("s-b", "b"), ("s-x", "x"))]
    seed += [(e, tenant) for s in SENT for e in s.events(tenant)]
    seed += [(e, tenant) for e in opened("tk-1", ("s-b", "s-a", "s-unknown"))]
    seed += [(e, tenant) for e in opened("tk-none", ())]
    seed += [(e, other) for e in opened("tk-2", ("s-a",))]
    await bi.publish(*seed)
    return bi, tenant, other


async def test_a_tickets_lines_open_and_recent_sessions(seeded: tuple[BiHarness, str, str]) -> None:
    bi, tenant, _ = seeded
    asked = datetime.now(UTC)
    response = await bi.client.get(PATH.format("tk-1"), params={"days": 7}, headers=bi.headers(tenant, "support"))
    answered = datetime.now(UTC)
    assert response.status_code == 200, response.text
    answer = response.json()
    TicketSessionsOut.model_validate(answer, strict=False)  # as the OpenAPI document describes it
    assert answer["ticket"] == {"ticket_id": "tk-1", "status": "open", "ticket_type": "fault", "customer_id": "c-1"}
    as_of = moment(answer["as_of"])
    # The moment of the request (NOW is the data's, when the module was imported: a suite may run it much later).
    assert asked - timedelta(seconds=1) <= as_of <= answered + timedelta(seconds=1)
    assert (moment(answer["window_from"]), answer["days"], answer["limit"]) == (as_of - timedelta(days=7), 7, 50)
    assert answer["stale_after_seconds"] == 3600

    def line(subscriber_id: str, username: str | None, open_: list[str], recent: list[str]) -> dict[str, Any]:
        listed = [BY_KEY[k] for k in recent]
        return {
            "subscriber_id": subscriber_id, "username": username, "online": bool(open_),
            "open": [BY_KEY[k].shown(tenant, recent=False) for k in open_],
            "recent": [s.shown(tenant, recent=True) for s in listed],
            "window": {"sessions": len(listed), "input_octets": sum(s.octets_in for s in listed),
                       "output_octets": sum(s.octets_out for s in listed),
                       "session_time_seconds": sum(int((s.start - s.last).total_seconds()) for s in listed)},
            "has_more": False,
        }  # fmt: skip

    # In the ticket's order. b: its 9-day session is open (updated 10 min ago) but started before the window.
    # a: the stale one (silent 3 h) is recent but not open; the 10-day-old one is outside the window.
    # x@isp's session is not on the ticket; s-unknown has no subscriber event here.
    expected = [
        line("s-b", "b@isp", ["b-long"], ["b-big"]),
        line("s-a", "a@isp", ["a-open"], ["a-open", "a-stale", "a-short"]),
        line("s-unknown", None, [], []),
    ]
    got = [line | {"open": parsed(line["open"]), "recent": parsed(line["recent"])} for line in answer["subscribers"]]
    assert got == expected
    # 64-bit counters, exact: b's window is 9 GiB + 5 in, a's open session 5 GiB + 17 so far.
    assert answer["subscribers"][0]["window"]["input_octets"] == 9 * GIB + 5
    assert answer["subscribers"][1]["open"][0]["input_octets"] == 5 * GIB + 17

    # limit: one recent session per line, the sums still over the whole window; days: the 10-day-old one is in.
    small = await bi.client.get(PATH.format("tk-1"), params={"days": 11, "limit": 1}, headers=bi.headers(tenant, "ops"))
    assert small.status_code == 200, small.text
    a = small.json()["subscribers"][1]
    assert [s["session_key"] for s in a["recent"]] == [f"{tenant}-a-open"]
    assert (a["window"]["sessions"], a["has_more"]) == (4, True)
    assert a["window"]["input_octets"] == sum(BY_KEY[k].octets_in for k in ("a-open", "a-short", "a-old", "a-stale"))
    b = small.json()["subscribers"][0]
    assert [s["session_key"] for s in b["recent"]] == [f"{tenant}-b-big"]
    assert (b["window"]["sessions"], b["window"]["output_octets"]) == (2, 6 * GIB + 3)

    # A ticket without affected subscribers: an empty list.
    empty = await bi.client.get(PATH.format("tk-none"), headers=bi.headers(tenant, "admin"))
    assert empty.status_code == 200, empty.text
    assert (empty.json()["ticket"]["ticket_id"], empty.json()["subscribers"]) == ("tk-none", [])


async def test_other_tenants_roles_and_bad_input(seeded: tuple[BiHarness, str, str]) -> None:
    bi, tenant, other = seeded
    # Another tenant's ticket is unknown here, and this tenant's is unknown there.
    for who, ticket_id in ((tenant, "tk-2"), (other, "tk-1"), (tenant, "tk-nowhere")):
        response = await bi.client.get(PATH.format(ticket_id), headers=bi.headers(who, "support"))
        assert response.status_code == 404, (who, ticket_id, response.text)
    # There, s-a has no subscriber event (it is the first tenant's): a line without a username.
    there = await bi.client.get(PATH.format("tk-2"), headers=bi.headers(other, "ops"))
    assert there.status_code == 200, there.text
    assert there.json()["subscribers"] == [{
        "subscriber_id": "s-a", "username": None, "online": False, "open": [], "recent": [], "has_more": False,
        "window": {"sessions": 0, "input_octets": 0, "output_octets": 0, "session_time_seconds": 0},
    }]  # fmt: skip
    assert (await bi.client.get(PATH.format("tk-1"), headers=bi.headers(tenant, "finance"))).status_code == 403
    cases = [
        ("tk-1", {"days": 0}, ["query", "days"]),
        ("tk-1", {"days": 91}, ["query", "days"]),
        ("tk-1", {"days": "week"}, ["query", "days"]),
        ("tk-1", {"limit": 0}, ["query", "limit"]),
        ("tk-1", {"limit": 501}, ["query", "limit"]),
        ("t" * 65, {}, ["path", "ticket_id"]),
        ("tk%00", {}, ["path", "ticket_id"]),
    ]
    for ticket_id, params, loc in cases:
        response = await bi.client.get(PATH.format(ticket_id), params=params, headers=bi.headers(tenant, "support"))
        assert response.status_code == 422, (ticket_id, params, response.text)
        assert response.json()["detail"][0]["loc"] == loc, (ticket_id, params)
