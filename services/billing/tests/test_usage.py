"""Usage billing from RADIUS session events on Kafka: usage per subscription and cycle, overage billed when
the cycle closes, a late event billed once as an adjustment on the next invoice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bss_contracts import topics

from .support import of_type, session_event, unique

GB = 10**9
AGGREGATED = "bss.billing.usage.aggregated"


def at(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2025-{day}T{hhmm}:00+00:00").astimezone(UTC)


async def _subscribed(billing, *, timezone: str = "Europe/Berlin") -> tuple[str, str, dict[str, Any]]:
    customer, subscriber = unique("cust"), unique("sub")
    username = f"{subscriber}@isp"
    await billing.add_customer(customer, timezone=timezone, subscriber_id=subscriber, username=username)
    plan = await billing.post("/billing/plans", {
        "code": unique("FIBER"), "name": "Fibre 100", "currency": "EUR", "price_minor": 3_000,
        "included_octets": 10 * GB, "overage_price_per_gb_minor": 200, "tax_rate_bp": 2000,
    })  # fmt: skip
    billing.clock.set(at("01-01", "10:00"))
    subscription = await billing.post("/billing/subscriptions", {"subscriber_id": subscriber, "plan_id": plan["id"],
                                                                 "start_date": "2025-01-01"})  # fmt: skip
    return username, subscriber, subscription


async def _close(billing, moment: datetime) -> int:
    billing.clock.set(moment)
    return int((await billing.post("/billing/usage/close", roles=("ops",), expect=200))["processed"])


async def _invoices(billing, subscription_id: str) -> list[dict[str, Any]]:
    page = await billing.get("/billing/invoices", subscription_id=subscription_id)
    return sorted(page["items"], key=lambda i: i["number"])


def _lines(invoice: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(line["kind"], line["quantity"], line["unit_price_minor"], line["amount_minor"], line["tax_minor"])
            for line in invoice["lines"]]  # fmt: skip


async def test_overage_is_billed_at_cycle_close_and_a_late_event_once_on_the_next_invoice(billing):
    username, subscriber, subscription = await _subscribed(billing)
    sub_id = subscription["id"]
    s1, s2, s3, s4 = (unique("sess") for _ in range(4))
    january = [
        session_event("start", username, s1, at("01-10", "10:00"), 0),
        session_event("interim", username, s1, at("01-10", "12:00"), 2 * GB, GB // 2),
        session_event("interim", username, s1, at("01-10", "12:00"), 2 * GB, GB // 2),  # sent twice
        session_event("stop", username, s1, at("01-11", "08:00"), 4 * GB, GB),
        session_event("interim", username, s1, at("01-10", "11:00"), GB, 0),  # an older interim, late
        # A session across the cycle's end (midnight in Berlin = 23:00 UTC): 8.5 GB before it, 0.5 GB after.
        session_event("start", username, s2, at("01-31", "21:00"), 0),
        session_event("interim", username, s2, at("01-31", "22:50"), 8 * GB, GB // 2),
        session_event("stop", username, s2, at("02-01", "00:00"), 8_400_000_000, 600_000_000),
    ]
    async with billing.probe(topics.INVOICES, topics.USAGE) as probe:
        await billing.publish_and_wait(*january)
        usage = await billing.get(f"/billing/subscriptions/{sub_id}/usage")
        [running] = usage["periods"]
        assert (running["period_start"], running["period_end"], running["final"]) == ("2025-01-01", "2025-01-31", False)

        assert await _close(billing, at("01-31", "22:59")) == 0  # still January in Berlin
        assert await _close(billing, at("01-31", "23:00")) == 1
        [jan] = await _invoices(billing, sub_id)
        assert (jan["period_start"], jan["period_end"], jan["status"]) == ("2025-01-01", "2025-01-31", "open")
        # 13.5 GB used, 10 included: 3.5 GB over, rounded up to 4 GB at 2.00.
        assert _lines(jan) == [("subscription", "1.000000", 3_000, 3_000, 600), ("usage_overage", "4.000000", 200,
                                                                                     800, 160)]  # fmt: skip
        assert (jan["subtotal_minor"], jan["tax_minor"], jan["total_minor"]) == (3_800, 760, 4_560)
        assert await _close(billing, at("02-01", "12:00")) == 0  # closed once

        [aggregated] = await probe.wait_for(lambda e: e.type == AGGREGATED)
        assert {k: aggregated.data[k] for k in ("period_start", "period_end", "input_octets", "output_octets",
                "total_octets", "included_octets", "overage_octets", "overage_amount_minor", "final",
                "invoice_id", "subscriber_id", "username")} == {
            "period_start": "2025-01-01", "period_end": "2025-01-31", "input_octets": 12 * GB,
            "output_octets": 1_500_000_000, "total_octets": 13_500_000_000, "included_octets": 10 * GB,
            "overage_octets": 3_500_000_000, "overage_amount_minor": 800, "final": True, "invoice_id": jan["id"],
            "subscriber_id": subscriber, "username": username,
        }  # fmt: skip

        # Late: a January session reported in February (1.2 GB), then reported again.
        late = [
            session_event("start", username, s3, at("01-20", "10:00"), 0),
            session_event("stop", username, s3, at("01-20", "12:00"), 1_200_000_000, 0),
        ]
        await billing.publish_and_wait(*late)
        await billing.publish_and_wait(late[1])
        usage = await billing.get(f"/billing/subscriptions/{sub_id}/usage")
        assert [(p["period_start"], p["late_usage_pending"]) for p in usage["periods"]] == [
            ("2025-01-01", True), ("2025-02-01", False),
        ]  # fmt: skip
        await billing.publish_and_wait(session_event("stop", username, s4, at("02-14", "09:00"), 2 * GB, 0))

        # February's invoice: its fee, no overage (2.5 GB), and January's correction: 14.7 GB -> 5 GB billed
        # instead of 4: 200 more.
        assert await _close(billing, at("02-28", "23:00")) == 1
        jan_again, feb = await _invoices(billing, sub_id)
        assert jan_again["total_minor"] == 4_560
        assert _lines(feb) == [("subscription", "1.000000", 3_000, 3_000, 600), ("usage_adjustment", "1.000000", 200,
                                                                                     200, 40)]  # fmt: skip
        assert "2025-01-01 to 2025-01-31" in feb["lines"][1]["description"]
        assert feb["total_minor"] == 3_840

        # The late session once more, after it was billed: nothing changes, March has no adjustment.
        await billing.publish_and_wait(late[1])
        assert await _close(billing, at("03-31", "22:00")) == 1  # March ends at 22:00 UTC (summer time)
        *_, march = await _invoices(billing, sub_id)
        assert _lines(march) == [("subscription", "1.000000", 3_000, 3_000, 600)]

        await probe.wait_for(lambda e: e.type == AGGREGATED, count=4)
        aggregated = of_type(await probe.settle(1.0), AGGREGATED)
    summary = sorted((e.data["period_start"], e.data["total_octets"], e.data["overage_amount_minor"],
                      e.data["invoice_id"]) for e in aggregated)  # fmt: skip
    assert summary == sorted([
        ("2025-01-01", 13_500_000_000, 800, jan["id"]),
        ("2025-01-01", 14_700_000_000, 1_000, feb["id"]),
        ("2025-02-01", 2_500_000_000, 0, feb["id"]),
        ("2025-03-01", 0, 0, march["id"]),
    ])  # fmt: skip
    usage = await billing.get(f"/billing/subscriptions/{sub_id}/usage")
    rows = [(p["period_start"], p["total_octets"], p["overage_amount_minor"], p["final"]) for p in usage["periods"]]
    assert rows == [
        ("2025-01-01", 14_700_000_000, 1_000, True), ("2025-02-01", 2_500_000_000, 0, True),
        ("2025-03-01", 0, 0, True), ("2025-04-01", 0, 0, False),
    ]  # fmt: skip


async def test_a_canceled_subscription_ends_with_its_cycle_and_late_usage_still_gets_billed(billing):
    username, _, subscription = await _subscribed(billing, timezone="UTC")
    sub_id = subscription["id"]
    billing.clock.set(at("01-15", "12:00"))
    canceled = await billing.post(f"/billing/subscriptions/{sub_id}/cancel", expect=200)
    assert (canceled["last_day"], canceled["status"]) == ("2025-01-31", "active")
    await billing.publish_and_wait(session_event("stop", username, unique("s"), at("01-20", "10:00"), 11 * GB, 0))
    assert await _close(billing, at("02-01", "00:00")) == 1
    [jan] = await _invoices(billing, sub_id)
    assert _lines(jan)[1] == ("usage_overage", "1.000000", 200, 200, 40)
    assert (await billing.get(f"/billing/subscriptions/{sub_id}"))["status"] == "ended"
    assert await _close(billing, at("03-01", "00:00")) == 0  # no more cycles

    # A January session reported in March: billed on an invoice of its own (12.5 GB -> 3 GB over).
    await billing.publish_and_wait(session_event("stop", username, unique("s"), at("01-25", "10:00"), GB + GB // 2, 0))
    assert await _close(billing, at("03-02", "00:00")) == 1
    _, late = await _invoices(billing, sub_id)
    assert (late["period_start"], _lines(late)) == (None, [("usage_adjustment", "1.000000", 400, 400, 80)])
    assert await _close(billing, at("03-03", "00:00")) == 0


async def test_subscription_requests_are_checked(billing):
    customer, subscriber = unique("cust"), unique("sub")
    await billing.add_customer(customer, subscriber_id=subscriber)
    plan = await billing.post("/billing/plans", {"code": "BASIC", "name": "Basic", "currency": "EUR",
                                                 "price_minor": 1_000})  # fmt: skip
    await billing.post("/billing/plans", {"code": "BASIC", "name": "Again", "currency": "EUR", "price_minor": 1},
                       expect=409)  # fmt: skip
    unknown = await billing.client.post("/billing/subscriptions", json={"subscriber_id": "nobody",
                                        "plan_id": plan["id"]}, headers=billing.auth())  # fmt: skip
    assert (unknown.status_code, unknown.json()["detail"][0]["loc"]) == (422, ["body", "subscriber_id"])
    bad_plan = await billing.client.post("/billing/subscriptions", json={"subscriber_id": subscriber,
                                         "plan_id": "nope"}, headers=billing.auth())  # fmt: skip
    assert (bad_plan.status_code, bad_plan.json()["detail"][0]["loc"]) == (422, ["body", "plan_id"])
    created = await billing.post("/billing/subscriptions", {"subscriber_id": subscriber, "plan_id": plan["id"]})
    assert (created["start_date"], created["status"]) == ("2025-03-03", "active")
    await billing.post("/billing/subscriptions", {"subscriber_id": subscriber, "plan_id": plan["id"]}, expect=409)


async def test_subscriptions_follow_the_subscriber_lifecycle(billing):
    from bss_contracts.events.customers import SubscriberActivated, SubscriberCreated, SubscriberTerminated

    customer, subscriber = unique("cust"), unique("sub")
    await billing.add_customer(customer, timezone="Asia/Tokyo")
    code = unique("HOME")
    await billing.post("/billing/plans", {"code": code, "name": "Home", "currency": "JPY", "price_minor": 4_980})
    username = f"{subscriber}@isp"
    common = {"subscriber_id": subscriber, "customer_id": customer, "username": username}
    await billing.publish_and_wait(
        SubscriberCreated(**common, plan_id=code, created_at=at("02-01", "00:00")),
        # 2025-02-10 17:00 UTC is the 11th in Tokyo: the cycle anchor.
        SubscriberActivated(**common, previous_status="pending", status="active", changed_at=at("02-10", "17:00")),
    )
    [subscription] = await billing.get("/billing/subscriptions", subscriber_id=subscriber)
    assert (subscription["start_date"], subscription["currency"], subscription["status"]) == ("2025-02-11", "JPY",
                                                                                               "active")  # fmt: skip
    await billing.publish_and_wait(
        SubscriberTerminated(**common, previous_status="active", status="terminated", changed_at=at("03-20", "00:00"))
    )
    [subscription] = await billing.get("/billing/subscriptions", subscriber_id=subscriber)
    assert subscription["last_day"] == "2025-04-10"  # the cycle of 2025-03-11 .. 2025-04-10 is the last one


async def test_a_cycle_that_cannot_be_billed_yet_does_not_hold_up_the_others(billing):
    from bss_contracts.events.customers import SubscriberActivated, SubscriberCreated

    from .support import customer_created

    _, _, normal = await _subscribed(billing, timezone="UTC")  # starts 2025-01-01
    # A subscriber whose customer billing has not heard of yet (the customer event is late).
    orphan_customer, orphan = unique("cust"), unique("sub")
    plan = await billing.post("/billing/plans", {"code": unique("P"), "name": "P", "currency": "EUR",
                                                 "price_minor": 1_000})  # fmt: skip
    common = {"subscriber_id": orphan, "customer_id": orphan_customer, "username": f"{orphan}@isp"}
    await billing.publish_and_wait(
        SubscriberCreated(**common, plan_id=plan["id"], created_at=at("01-01", "00:00")),
        SubscriberActivated(**common, previous_status="pending", status="active", changed_at=at("01-01", "00:00")),
    )
    assert await _close(billing, at("02-01", "00:00")) == 1  # the normal one; the orphan is postponed
    assert len(await _invoices(billing, normal["id"])) == 1
    await billing.publish_and_wait(customer_created(orphan_customer, timezone="UTC"))
    assert await _close(billing, at("02-01", "00:10")) == 0  # not retried before 15 minutes
    assert await _close(billing, at("02-01", "00:15")) == 1
    [orphan_subscription] = await billing.get("/billing/subscriptions", subscriber_id=orphan)
    [invoice] = await _invoices(billing, orphan_subscription["id"])
    assert (invoice["period_start"], invoice["total_minor"], invoice["issue_date"]) == (
        "2025-01-01",
        1_000,
        "2025-02-01",
    )


async def test_cycles_closed_late_are_dated_on_their_billing_day(billing):
    _, _, subscription = await _subscribed(billing, timezone="UTC")  # cycles start on the 1st
    # The service was down (or is catching up a migration): three cycles close at once, on April 10th.
    assert await _close(billing, at("04-10", "08:00")) == 3
    invoices = await _invoices(billing, subscription["id"])
    assert [(i["number"][-6:], i["period_start"], i["issue_date"], i["due_date"]) for i in invoices] == [
        ("000001", "2025-01-01", "2025-02-01", "2025-02-15"),
        ("000002", "2025-02-01", "2025-03-01", "2025-03-15"),
        ("000003", "2025-03-01", "2025-04-01", "2025-04-15"),
    ]  # fmt: skip
    # Collections sees the two whose due date has passed.
    scan = await billing.post("/billing/invoices/overdue-scan", roles=("ops",), expect=200)
    assert scan["processed"] == 2
