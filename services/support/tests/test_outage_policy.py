"""The outage policy against the real broker, with two consumer replicas of the service on one database: each
SLA breach billing reports opens one fault ticket for the affected customer, once, even when the event is
redelivered and when the same breach is reported again under a new event id."""

from __future__ import annotations

from bss_contracts import topics
from bss_testkit.events import EventProbe, eventually, publish_events

from .conftest import StartSupport
from .support_helpers import TENANT, RunningSupport, breach, unique


async def test_one_ticket_per_affected_customer_once_with_two_replicas(
    support: RunningSupport, start_support: StartSupport, kafka_bootstrap: str, prefix: str
) -> None:
    replica = await start_support(database_url=support.settings.database_url)
    # A tenant that wants tickets from major breaches up: the minor one below opens none.
    await support.call("PUT", "/support/sla/outage-policy", roles=("admin",),
                       json={"enabled": True, "min_severity": "major"})  # fmt: skip
    customers = [unique("cust") for _ in range(4)]
    breaches = [breach(c, f"{c}-line", severity="critical" if i == 0 else "major") for i, c in enumerate(customers)]
    again = breach(customers[1], f"{customers[1]}-line", breach_id=breaches[1].breach_id)  # re-reported breach
    minor = breach(unique("cust"), None, severity="minor")
    sent = await publish_events(kafka_bootstrap, prefix, *[(b, TENANT) for b in (*breaches, again, minor)])
    # The same envelope delivered twice (as after a producer retry or a rebalance).
    await publish_events(kafka_bootstrap, prefix, (breaches[2], TENANT))
    assert len({str(e.id) for e in sent}) == 6

    await eventually(lambda: _count(support, len(breaches)), timeout=60)
    async with EventProbe(kafka_bootstrap, prefix, topics.TICKETS) as probe:
        opened = await probe.wait_for(lambda e: e.type == "bss.support.ticket.opened", count=len(breaches))
        await probe.settle(1.5)
    assert await support.ticket_count() == len(breaches)
    for b in breaches:
        assert await support.ticket_count(sla_breach_id=b.breach_id, customer_id=b.customer_id) == 1
    opened = probe.of_type("bss.support.ticket.opened")
    assert sorted(e.data["sla_breach_id"] for e in opened) == sorted(b.breach_id for b in breaches)
    assert {e.data["priority"] for e in opened if e.data["customer_id"] == customers[0]} == {"urgent"}
    assert all(e.data["ticket_type"] == "fault" and e.data["channel"] == "monitoring" for e in opened)
    monitored = await replica.call("GET", "/support/tickets", params={"channel": "monitoring", "limit": 1})
    assert monitored["total"] == len(breaches)
    page = await replica.call("GET", "/support/tickets", params={"customer_id": customers[3]})
    assert [(t["subscriber_ids"], t["status"]) for t in page["items"]] == [([f"{customers[3]}-line"], "new")]


async def _count(support: RunningSupport, expected: int) -> bool:
    return await support.ticket_count() >= expected
