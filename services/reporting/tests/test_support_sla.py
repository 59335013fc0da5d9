"""GET /analytics/support/sla and its BI report type against the real service: the support service's ticket
events for a scripted set of tickets (with customers in two regions, lines on two NAS), and every figure of the
report recomputed here from those tickets."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bss_contracts import DomainEvent
from bss_contracts.events import support as ev

from .bi_support import BiHarness
from .reporting_support import customer, new_tenant, session_event, subscriber

pytestmark = pytest.mark.timeout(300)

NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = (NOW - timedelta(days=20), NOW)


@dataclass
class Ticket:
    ticket_id: str
    customer_id: str
    subscriber_id: str
    ticket_type: str
    priority: str
    opened: timedelta  # before NOW
    response_s: int | None = None
    resolution_s: int | None = None
    breached: tuple[str, ...] = ()
    reopened: bool = False  # resolved, reopened, resolved again (resolution_s is the second)
    events: list[DomainEvent] = field(default_factory=list)

    @property
    def opened_at(self) -> datetime:
        return NOW - self.opened

    def build(self) -> list[DomainEvent]:
        """The events the support service writes for this ticket, in its order."""
        common = {"ticket_id": self.ticket_id, "customer_id": self.customer_id, "ticket_type": self.ticket_type,
                  "priority": self.priority}  # fmt: skip
        due = self.opened_at + timedelta(hours=4)
        status = ["new"]

        def move(to: str, at: datetime) -> DomainEvent:
            previous, status[0] = status[0], to
            return ev.TicketStatusChanged(**common, previous_status=previous, status=to, changed_at=at)  # type: ignore[arg-type]

        out: list[DomainEvent] = [ev.TicketOpened(
            **common, subject="s", status="new", channel="phone", subscriber_ids=(self.subscriber_id,),
            response_due_at=self.opened_at + timedelta(hours=1), resolution_due_at=due, opened_at=self.opened_at,
        )]  # fmt: skip
        if self.response_s is not None:
            at = self.opened_at + timedelta(seconds=self.response_s)
            on_time = "response" not in self.breached
            out.append(ev.TicketFirstResponse(**common, responded_at=at, response_seconds=self.response_s,
                                              response_due_at=due, within_sla=on_time))  # fmt: skip
            out.append(move("open", at))
        for clock in self.breached:
            out.append(ev.TicketSlaBreached(**common, clock=clock, due_at=due, detected_at=due))  # type: ignore[arg-type]
        if self.resolution_s is not None:
            if self.reopened:
                first = self.opened_at + timedelta(seconds=self.resolution_s // 2)
                out.append(move("resolved", first))
                out.append(ev.TicketResolved(**common, opened_at=self.opened_at, resolved_at=first,
                                             resolution_seconds=self.resolution_s // 2, resolution_due_at=due,
                                             within_sla=True))  # fmt: skip
                out.append(move("reopened", first + timedelta(minutes=1)))
                out.append(ev.TicketReopened(**common, reopened_at=first + timedelta(minutes=1)))
            at = self.opened_at + timedelta(seconds=self.resolution_s)
            out.append(move("resolved", at))
            out.append(ev.TicketResolved(**common, opened_at=self.opened_at, resolved_at=at,
                                         resolution_seconds=self.resolution_s, resolution_due_at=due,
                                         within_sla="resolution" not in self.breached))  # fmt: skip
        return out


def scripted(tenant: str) -> list[Ticket]:
    h = 3600
    return [
        Ticket("t1", "c-north", "s-n1", "fault", "high", timedelta(days=10), 600, 3 * h),
        Ticket("t2", "c-north", "s-n2", "fault", "high", timedelta(days=9), 1800, 9 * h, ("resolution",)),
        Ticket("t3", "c-south", "s-s1", "fault", "urgent", timedelta(days=8), 4000, 20 * h, ("response", "resolution")),
        Ticket("t4", "c-south", "s-s1", "billing", "normal", timedelta(days=5), 300, 2 * h, reopened=True),
        Ticket("t5", "c-north", "s-n1", "installation", "normal", timedelta(days=4), 900),  # answered, open
        Ticket("t6", "c-south", "s-s2", "fault", "high", timedelta(days=2)),  # not answered yet
        Ticket("t7", "c-north", "s-n2", "billing", "low", timedelta(hours=5), 120, 2400),
        Ticket("t8", "c-south", "s-s2", "upgrade", "low", timedelta(days=21), 100, 50 * h),  # opened before the window
        Ticket("t9", "c-north", "s-n1", "fault", "urgent", timedelta(days=25), None, None, ("response", "resolution")),
    ]


def q(values: Sequence[int], p: float) -> float | None:
    """Linear-interpolation quantile, computed independently of the service (statistics, 'inclusive')."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    cuts = statistics.quantiles(values, n=10 if p == 0.9 else 2, method="inclusive")
    return cuts[8] if p == 0.9 else cuts[0]


def expected(tickets: Sequence[Ticket]) -> dict[str, Any]:
    responses = [t.response_s for t in tickets if t.response_s is not None]
    resolutions = [t.resolution_s for t in tickets if t.resolution_s is not None]
    breached = sum(1 for t in tickets if t.breached)
    return {
        "opened": len(tickets), "answered": len(responses), "resolved": len(resolutions), "breached": breached,
        "breach_rate": round(breached / len(tickets), 4),
        "first_response_median_s": q(responses, 0.5), "first_response_p90_s": q(responses, 0.9),
        "resolution_median_s": q(resolutions, 0.5), "resolution_p90_s": q(resolutions, 0.9),
    }  # fmt: skip


async def test_the_support_sla_report_equals_the_tickets_and_is_a_bi_report(bi: BiHarness) -> None:
    tenant = new_tenant()
    tickets = scripted(tenant)
    seed: list[tuple[DomainEvent, str]] = [
        (customer("c-north", "North Ltd", region="North"), tenant),
        (customer("c-south", "South Ltd", region="South"), tenant),
        (customer("c-none", "Nowhere Ltd"), tenant),
    ]
    lines = {"s-n1": ("c-north", "nas-a"), "s-n2": ("c-north", "nas-b"), "s-s1": ("c-south", "nas-a"),
             "s-s2": ("c-south", "nas-a"), "s-x": ("c-none", "nas-b")}  # fmt: skip
    for sub, (cust, nas) in lines.items():
        seed.append((subscriber(sub, cust, f"{sub}@isp"), tenant))
        start = NOW - timedelta(days=3)
        seed.append(
            (session_event("start", f"{tenant}-{sub}", f"{sub}@isp", start=start, when=start, nas_id=nas), tenant)
        )
    for t in tickets:
        seed += [(e, tenant) for e in t.build()]
    await bi.publish(*seed)

    params = {"from": WINDOW[0].isoformat(), "to": WINDOW[1].isoformat()}
    response = await bi.client.get("/analytics/support/sla", params=params, headers=bi.headers(tenant, "support"))
    assert response.status_code == 200, response.text
    report = response.json()

    inside = [t for t in tickets if WINDOW[0] <= t.opened_at < WINDOW[1]]
    assert {t.ticket_id for t in inside} == {f"t{i}" for i in range(1, 8)}
    assert report["opened"] == 7
    resolved_in_window = [t for t in tickets if t.resolution_s is not None
                          and WINDOW[0] <= t.opened_at + timedelta(seconds=t.resolution_s) < WINDOW[1]]  # fmt: skip
    assert report["resolved"] == len(resolved_in_window) == 6  # t1-t4, t7, and t8 (opened before the window)
    assert report["total"] == expected(inside)
    for key in ("priority", "ticket_type"):
        groups: dict[str, list[Ticket]] = {}
        for t in inside:
            groups.setdefault(getattr(t, key), []).append(t)
        by = report["by_priority" if key == "priority" else "by_type"]
        assert by == {k: expected(v) for k, v in sorted(groups.items())}, key
    # Active now: t5 (4 days), t6 (2 days), t9 (25 days).
    assert report["backlog"]["by_age"] == {"0-1d": 0, "1-3d": 1, "3-7d": 1, "7-30d": 1, "30d+": 0}
    # Per region: tickets of the window by customer region, over the region's subscribers.
    assert report["per_region"] == [
        {"region": "North", "tickets": 4, "subscribers": 2, "per_1000_subscribers": 2000.0},
        {"region": "South", "tickets": 3, "subscribers": 2, "per_1000_subscribers": 1500.0},
        {"region": "unknown", "tickets": 0, "subscribers": 1, "per_1000_subscribers": 0.0},
    ]
    # Per NAS: nas-a has s-n1, s-s1, s-s2 (tickets t1, t3, t4, t5, t6); nas-b has s-n2, s-x (t2, t7).
    assert report["per_nas"] == [
        {"nas_id": "nas-a", "tickets": 5, "subscribers": 3, "per_1000_subscribers": round(5000 / 3, 2)},
        {"nas_id": "nas-b", "tickets": 2, "subscribers": 2, "per_1000_subscribers": 1000.0},
    ]
    # Roles: ops and support read; finance does not. Bad input names the field.
    assert (await bi.client.get("/analytics/support/sla", headers=bi.headers(tenant, "finance"))).status_code == 403
    bad = await bi.client.get("/analytics/support/sla", params={"from": NOW.isoformat(), "to": WINDOW[0].isoformat()},
                              headers=bi.headers(tenant, "ops"))  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "from"]

    # The BI report type: one row per dimension and key, the same figures.
    template = await bi.template(
        tenant, "ops", name="Support SLA", report_type="support", report="analytics/support/sla",
        output_formats=["csv"], parameters_schema={"type": "object", "properties": {
            "from": {"type": "string"}, "to": {"type": "string"}}},
    )  # fmt: skip
    asked = await bi.request_run(tenant, template["template_id"], "ops", **params)
    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, asked["execution_id"], "ops")
    assert done["status"] == "completed", done["error"]
    table = list(csv.DictReader(io.StringIO((await bi.download(tenant, asked["execution_id"], "csv", "ops")).text)))
    assert [(r["dimension"], r["key"]) for r in table] == [(r["dimension"], r["key"]) for r in report["rows"]]
    total = next(r for r in table if r["dimension"] == "total")
    assert (int(total["opened"]), float(total["breach_rate"])) == (7, expected(inside)["breach_rate"])
