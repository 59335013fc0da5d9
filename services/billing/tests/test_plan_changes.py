"""Plan changes and the subscription's revenue events, against the real database and Kafka.

An upgrade takes effect at once and is prorated on the invoice of its cycle (hand-worked to the cent, a 31-day
and a February cycle); a downgrade waits for the cycle end; cancellations, ends and a win-back publish their
events with the monthly recurring amounts before and after; subscriptions from before these events get their
history by the backfill, once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert

from billing.adapters.tables import subscriptions
from billing.service_layer import revenue
from bss_contracts import topics

from .support import of_type, unique

STARTED = "bss.billing.subscription.started"
CHANGED = "bss.billing.subscription.plan-changed"
CANCELED = "bss.billing.subscription.canceled"
ENDED = "bss.billing.subscription.ended"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _plan(billing: Any, name: str, price_minor: int, *, currency: str = "EUR", tax_rate_bp: int = 0) -> str:
    body = {"code": unique(name.upper()), "name": name, "currency": currency, "price_minor": price_minor,
            "tax_rate_bp": tax_rate_bp}  # fmt: skip
    plan: dict[str, Any] = await billing.post("/billing/plans", body)
    return str(plan["id"])


async def _subscribed(billing: Any, plan_id: str, *, start: str = "2025-01-01") -> tuple[str, str, dict[str, Any]]:
    customer, subscriber = unique("cust"), unique("sub")
    await billing.add_customer(customer, timezone="UTC", subscriber_id=subscriber)
    billing.clock.set(at(f"{start}T10:00"))
    body = {"subscriber_id": subscriber, "plan_id": plan_id, "start_date": start}
    return customer, subscriber, await billing.post("/billing/subscriptions", body)


async def _change(billing: Any, sub_id: str, body: dict[str, Any], *, expect: int = 200) -> Any:
    return await billing.post(f"/billing/subscriptions/{sub_id}/change-plan", body, expect=expect)


async def _close(billing: Any, moment: datetime) -> int:
    billing.clock.set(moment)
    return int((await billing.post("/billing/usage/close", roles=("ops",), expect=200))["processed"])


async def _invoices(billing: Any, subscription_id: str) -> list[dict[str, Any]]:
    page = await billing.get("/billing/invoices", subscription_id=subscription_id)
    return sorted(page["items"], key=lambda i: i["number"])


def _lines(invoice: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(line["kind"], line["amount_minor"], line["tax_minor"]) for line in invoice["lines"]]


def _money(invoice: dict[str, Any]) -> tuple[int, int, int]:
    return invoice["subtotal_minor"], invoice["tax_minor"], invoice["total_minor"]


async def test_an_upgrade_in_a_31_day_cycle_is_prorated_to_the_cent_and_published(billing):
    basic = await _plan(billing, "Basic", 2999, tax_rate_bp=2000)
    fast = await _plan(billing, "Fast", 4999, tax_rate_bp=2000)
    customer, subscriber, sub = await _subscribed(billing, basic)
    billing.clock.set(at("2025-01-11T00:00"))
    changed = await _change(billing, sub["id"], {"plan_id": fast})  # an upgrade: at once by default
    assert (changed["plan_id"], changed["scheduled_change"]) == (fast, None)

    assert await _close(billing, at("2025-02-01T00:00")) == 1
    [jan] = await _invoices(billing, sub["id"])
    # Basic in full, then 21 of 31 days: credit 2999 x 21/31 = 2031.58 -> 2032, charge 4999 x 21/31 = 3386.42
    # -> 3386; tax 20 % per line, half away from zero: 599.8 -> 600, -406.4 -> -406, 677.2 -> 677.
    assert _lines(jan) == [("subscription", 2999, 600), ("proration", -2032, -406), ("proration", 3386, 677)]
    assert _money(jan) == (4353, 871, 5224)
    assert "Unused Basic, 2025-01-11 to 2025-01-31" in jan["lines"][1]["description"]
    assert await _close(billing, at("2025-03-01T00:00")) == 1
    _, feb = await _invoices(billing, sub["id"])
    assert _lines(feb) == [("subscription", 4999, 1000)]  # Fast in full from the next cycle, no proration again

    async with billing.probe(topics.SUBSCRIPTIONS) as probe:
        events = await probe.wait_for(lambda e: e.data.get("subscription_id") == sub["id"], count=2)
    [started] = of_type(events, STARTED)
    [change] = of_type(events, CHANGED)
    assert started.subject == customer and started.tenant_id == billing.tenant
    assert {k: started.data[k] for k in ("customer_id", "subscriber_id", "username", "plan_id", "currency",
                                          "mrr_before_minor", "mrr_after_minor", "effective_at", "backfilled")} == {
        "customer_id": customer, "subscriber_id": subscriber, "username": f"{subscriber}@isp", "plan_id": basic,
        "currency": "EUR", "mrr_before_minor": 0, "mrr_after_minor": 2999, "effective_at": "2025-01-01T00:00:00Z",
        "backfilled": False,
    }  # fmt: skip
    assert {k: change.data[k] for k in ("previous_plan_id", "plan_id", "mrr_before_minor", "mrr_after_minor",
                                         "effective_at", "timing")} == {
        "previous_plan_id": basic, "plan_id": fast, "mrr_before_minor": 2999, "mrr_after_minor": 4999,
        "effective_at": "2025-01-11T00:00:00Z", "timing": "now",
    }  # fmt: skip


async def test_an_upgrade_in_february_rounds_half_to_even(billing):
    basic = await _plan(billing, "Basic", 3001)
    fast = await _plan(billing, "Fast", 5001)
    _, _, sub = await _subscribed(billing, basic)
    assert await _close(billing, at("2025-02-01T00:00")) == 1
    billing.clock.set(at("2025-02-15T00:00"))  # 14 of February's 28 days remain: exactly a half
    await _change(billing, sub["id"], {"plan_id": fast, "effective": "now"})
    assert await _close(billing, at("2025-03-01T00:00")) == 1
    jan, feb = await _invoices(billing, sub["id"])
    assert _lines(jan) == [("subscription", 3001, 0)]
    # 3001 / 2 = 1500.5 -> 1500 and 5001 / 2 = 2500.5 -> 2500 (half to even; half up would give 1501 / 2501)
    assert _lines(feb) == [("subscription", 3001, 0), ("proration", -1500, 0), ("proration", 2500, 0)]
    assert _money(feb) == (4001, 0, 4001)


async def test_a_downgrade_waits_for_the_cycle_end_and_is_shown_until_then(billing):
    basic = await _plan(billing, "Basic", 2999)
    fast = await _plan(billing, "Fast", 4999)
    _, _, sub = await _subscribed(billing, fast)
    billing.clock.set(at("2025-01-20T08:30"))
    changed = await _change(billing, sub["id"], {"plan_id": basic})  # a downgrade: at the cycle end by default
    expected = {"plan_id": basic, "previous_plan_id": fast, "effective_at": "2025-02-01T00:00:00Z",
                "requested_at": "2025-01-20T08:30:00Z"}  # fmt: skip
    assert (changed["plan_id"], changed["scheduled_change"]) == (fast, expected)
    assert (await billing.get(f"/billing/subscriptions/{sub['id']}"))["scheduled_change"] == expected
    [listed] = await billing.get("/billing/subscriptions", subscriber_id=sub["subscriber_id"])
    assert listed["scheduled_change"] == expected

    billing.clock.set(at("2025-02-01T00:00"))
    assert await billing.service.scheduler.apply_plan_changes() >= 1
    now = await billing.get(f"/billing/subscriptions/{sub['id']}")
    assert (now["plan_id"], now["scheduled_change"]) == (basic, None)
    assert await _close(billing, at("2025-02-01T00:00")) == 1
    assert await _close(billing, at("2025-03-01T00:00")) == 1
    jan, feb = await _invoices(billing, sub["id"])
    assert (_lines(jan), _lines(feb)) == ([("subscription", 4999, 0)], [("subscription", 2999, 0)])

    async with billing.probe(topics.SUBSCRIPTIONS) as probe:
        [change] = await probe.wait_for(lambda e: e.type == CHANGED and e.data["subscription_id"] == sub["id"])
    assert (change.data["mrr_before_minor"], change.data["mrr_after_minor"], change.data["effective_at"],
            change.data["timing"], change.data["requested_at"]) == (4999, 2999, "2025-02-01T00:00:00Z", "period_end",
                                                                    "2025-01-20T08:30:00Z")  # fmt: skip


async def test_a_downgrade_due_at_the_cycle_end_is_applied_by_the_close_itself(billing):
    basic = await _plan(billing, "Basic", 2999)
    fast = await _plan(billing, "Fast", 4999)
    _, _, sub = await _subscribed(billing, fast)
    billing.clock.set(at("2025-01-20T00:00"))
    await _change(billing, sub["id"], {"plan_id": basic, "effective": "period_end"})
    assert await _close(billing, at("2025-02-01T00:00")) == 1  # no plan-change pass ran before
    assert (await billing.get(f"/billing/subscriptions/{sub['id']}"))["plan_id"] == basic
    [jan] = await _invoices(billing, sub["id"])
    assert _lines(jan) == [("subscription", 4999, 0)]


async def test_cancel_end_and_win_back_publish_their_revenue_events(billing):
    basic = await _plan(billing, "Basic", 2999)
    fast = await _plan(billing, "Fast", 4999)
    customer, subscriber, sub = await _subscribed(billing, basic)
    billing.clock.set(at("2025-01-15T12:00"))
    await billing.post(f"/billing/subscriptions/{sub['id']}/cancel", expect=200)
    # A downgrade would take effect when the subscription has ended already.
    late = await _change(billing, sub["id"], {"plan_id": fast, "effective": "period_end"}, expect=409)
    assert late["detail"][0]["loc"] == ["body", "effective"]
    assert await _close(billing, at("2025-02-01T00:00")) == 1
    assert (await billing.get(f"/billing/subscriptions/{sub['id']}"))["status"] == "ended"
    ended = await _change(billing, sub["id"], {"plan_id": fast}, expect=409)
    assert "ended" in ended["detail"][0]["msg"]

    billing.clock.set(at("2025-03-10T09:00"))  # the customer comes back: a win-back
    again = await billing.post("/billing/subscriptions", {"subscriber_id": subscriber, "plan_id": fast})
    assert again["id"] != sub["id"]

    async with billing.probe(topics.SUBSCRIPTIONS) as probe:
        events = await probe.wait_for(lambda e: e.data.get("customer_id") == customer, count=4)
    assert [(e.type, e.data["subscription_id"]) for e in events] == [
        (STARTED, sub["id"]), (CANCELED, sub["id"]), (ENDED, sub["id"]), (STARTED, again["id"]),
    ]  # fmt: skip
    _, canceled, end, back = (e.data for e in events)
    assert (canceled["mrr_before_minor"], canceled["mrr_after_minor"], canceled["effective_at"], canceled["ends_at"],
            canceled["last_day"], canceled["cause"]) == (2999, 2999, "2025-01-15T12:00:00Z", "2025-02-01T00:00:00Z",
                                                         "2025-01-31", "canceled")  # fmt: skip
    assert (end["mrr_before_minor"], end["mrr_after_minor"], end["effective_at"]) == (2999, 0, "2025-02-01T00:00:00Z")
    assert (back["mrr_before_minor"], back["mrr_after_minor"], back["effective_at"], back["plan_id"]) == (
        0, 4999, "2025-03-10T00:00:00Z", fast,
    )  # fmt: skip


async def test_change_plan_requests_are_checked(billing):
    basic = await _plan(billing, "Basic", 2999)
    dollars = await _plan(billing, "Dollars", 4999, currency="USD")
    fast = await _plan(billing, "Fast", 4999)
    _, _, sub = await _subscribed(billing, basic)
    path = f"/billing/subscriptions/{sub['id']}/change-plan"

    same = await _change(billing, sub["id"], {"plan_id": basic}, expect=409)
    assert same["detail"][0]["loc"] == ["body", "plan_id"]
    other_currency = await _change(billing, sub["id"], {"plan_id": dollars}, expect=422)
    assert other_currency["detail"][0]["loc"] == ["body", "plan_id"]
    assert "USD" in other_currency["detail"][0]["msg"]
    unknown = await _change(billing, sub["id"], {"plan_id": "no-such-plan"}, expect=422)
    assert unknown["detail"][0]["loc"] == ["body", "plan_id"]
    bad_timing = await _change(billing, sub["id"], {"plan_id": fast, "effective": "tomorrow"}, expect=422)
    assert bad_timing["detail"][0]["loc"] == ["body", "effective"]
    missing = await _change(billing, sub["id"], {}, expect=422)
    assert missing["detail"][0]["loc"] == ["body", "plan_id"]
    await _change(billing, "no-such-subscription", {"plan_id": fast}, expect=404)

    # Another tenant does not see this subscription; support may not change plans.
    other = await billing.client.post(path, json={"plan_id": fast}, headers=billing.auth(tenant=unique("isp")))
    assert other.status_code == 404
    support = await billing.client.post(path, json={"plan_id": fast}, headers=billing.auth("support"))
    assert support.status_code == 403
    assert (await billing.get(f"/billing/subscriptions/{sub['id']}"))["plan_id"] == basic


async def test_subscriptions_from_before_the_events_get_their_history_once(billing):
    basic = await _plan(billing, "Basic", 2999)
    fast = await _plan(billing, "Fast", 4999)
    customer = unique("cust")
    subscribers = [unique("sub") for _ in range(4)]
    await billing.add_customer(customer, timezone="UTC")
    for subscriber in subscribers:
        await billing.add_customer(customer, timezone="UTC", subscriber_id=subscriber)
    # Rows as a database from before these events holds them: no event markers.
    rows = [
        ("active", None),
        ("active", date(2025, 3, 1)),
        ("ended", date(2025, 2, 1)),
        ("active", None),
    ]
    ids = [unique("old") for _ in rows]
    async with billing.service.deps.database.transaction() as session:
        for sub_id, subscriber, (status, end) in zip(ids, subscribers, rows, strict=True):
            await session.execute(insert(subscriptions).values(
                id=sub_id, tenant_id=billing.tenant, subscriber_id=subscriber, customer_id=customer, plan_id=basic,
                currency="EUR", start_date=date(2025, 1, 1), end_date=end, status=status, next_cycle=1,
                next_close_at=None if status == "ended" else at("2025-03-01T00:00"),
            ))  # fmt: skip
    billing.clock.set(at("2025-02-10T00:00"))
    # The last one changes plan before the backfill ran: its Started is written first, in that transaction.
    await _change(billing, ids[3], {"plan_id": fast})

    deps = billing.service.deps
    assert await revenue.publish_missing_history(deps, tenant_id=billing.tenant) == 3
    assert await revenue.publish_missing_history(deps, tenant_id=billing.tenant) == 0  # nothing new the second time

    async with billing.probe(topics.SUBSCRIPTIONS) as probe:
        await probe.wait_for(lambda e: e.data.get("customer_id") == customer, count=8)
        events = [e for e in await probe.settle(2.0) if e.data.get("customer_id") == customer]
    by_sub = {sub_id: [e.type for e in events if e.data["subscription_id"] == sub_id] for sub_id in ids}
    assert by_sub == {
        ids[0]: [STARTED],
        ids[1]: [STARTED, CANCELED],
        ids[2]: [STARTED, CANCELED, ENDED],
        ids[3]: [STARTED, CHANGED],
    }
    assert all(e.data["backfilled"] for e in events if e.type != CHANGED)
    ended = next(e.data for e in events if e.type == ENDED)
    assert (ended["mrr_before_minor"], ended["mrr_after_minor"]) == (2999, 0)
    assert ended["effective_at"] == "2025-02-01T00:00:00Z"
    canceled = next(e.data for e in events if e.type == CANCELED and e.data["subscription_id"] == ids[1])
    assert (canceled["ends_at"], canceled["effective_at"]) == ("2025-03-01T00:00:00Z", "2025-02-10T00:00:00Z")
    first = next(e.data for e in events if e.data["subscription_id"] == ids[3])
    assert (first["plan_id"], first["mrr_after_minor"], first["effective_at"]) == (basic, 2999, "2025-01-01T00:00:00Z")


async def test_a_cancellation_on_a_date_ends_the_subscription_once_that_date_has_passed(billing):
    basic = await _plan(billing, "Basic", 2999)
    customer, subscriber, sub = await _subscribed(billing, basic)
    assert await _close(billing, at("2025-02-01T00:00")) == 1
    assert await _close(billing, at("2025-03-01T00:00")) == 1
    billing.clock.set(at("2025-03-10T12:00"))
    path = f"/billing/subscriptions/{sub['id']}/cancel"
    billed = await billing.post(path, {"last_day": "2025-02-20"}, expect=422)  # February is invoiced already
    assert billed["detail"][0]["loc"] == ["body", "last_day"]
    assert (await billing.post(path, {"last_day": "not a day"}, expect=422))["detail"][0]["loc"] == ["body", "last_day"]
    canceled = await billing.post(path, {"last_day": "2025-03-04"}, expect=200)
    assert (canceled["last_day"], canceled["status"]) == ("2025-03-04", "active")
    again = await billing.post(path, {"last_day": "2025-03-06"}, expect=409)
    assert again["detail"][0]["loc"] == ["body", "last_day"]

    assert await _close(billing, at("2025-03-10T12:00")) == 1  # the end date has passed: the last cycle closes now
    assert (await billing.get(f"/billing/subscriptions/{sub['id']}"))["status"] == "ended"
    *_, march = await _invoices(billing, sub["id"])
    assert (march["period_start"], _lines(march)) == ("2025-03-01", [("subscription", 2999, 0)])  # billed in full
    assert march["issue_date"] == "2025-03-05"  # on the end date, not at the cycle's end
    back = await billing.post("/billing/subscriptions", {"subscriber_id": subscriber, "plan_id": basic})

    async with billing.probe(topics.SUBSCRIPTIONS) as probe:
        events = await probe.wait_for(lambda e: e.data.get("customer_id") == customer, count=4)
    assert [(e.type, e.data["effective_at"]) for e in events] == [
        (STARTED, "2025-01-01T00:00:00Z"), (CANCELED, "2025-03-05T00:00:00Z"), (ENDED, "2025-03-05T00:00:00Z"),
        (STARTED, "2025-03-10T00:00:00Z"),
    ]  # fmt: skip
    assert events[3].data["subscription_id"] == back["id"] and not events[3].data["backfilled"]


async def test_a_subscription_that_follows_the_subscriber_lifecycle_publishes_its_start_and_cancellation(billing):
    from bss_contracts.events.customers import SubscriberActivated, SubscriberCreated, SubscriberTerminated

    customer, subscriber = unique("cust"), unique("sub")
    await billing.add_customer(customer, timezone="Asia/Tokyo")
    code = unique("HOME")
    plan = await billing.post("/billing/plans", {"code": code, "name": "Home", "currency": "JPY", "price_minor": 4_980})
    common = {"subscriber_id": subscriber, "customer_id": customer, "username": f"{subscriber}@isp"}
    await billing.publish_and_wait(
        SubscriberCreated(**common, plan_id=code, created_at=at("2025-02-01T00:00")),
        # 2025-02-10 17:00 UTC is the 11th in Tokyo: the start, at 00:00 Tokyo = 15:00 UTC the day before.
        SubscriberActivated(**common, previous_status="pending", status="active", changed_at=at("2025-02-10T17:00")),
    )
    await billing.publish_and_wait(
        SubscriberTerminated(**common, previous_status="active", status="terminated", changed_at=at("2025-03-20T00:00"))
    )
    async with billing.probe(topics.SUBSCRIPTIONS) as probe:
        started, canceled = await probe.wait_for(lambda e: e.data.get("customer_id") == customer, count=2)
    assert (started.type, started.data["effective_at"], started.data["mrr_after_minor"], started.data["currency"],
            started.data["plan_id"]) == (STARTED, "2025-02-10T15:00:00Z", 4980, "JPY", plan["id"])  # fmt: skip
    assert (canceled.type, canceled.data["cause"], canceled.data["effective_at"], canceled.data["last_day"],
            canceled.data["ends_at"]) == (CANCELED, "subscriber_terminated", "2025-03-20T00:00:00Z", "2025-04-10",
                                          "2025-04-10T15:00:00Z")  # fmt: skip


async def test_the_scheduler_writes_the_history_of_existing_subscriptions_by_itself(start_billing):
    service = await start_billing(workers=True)
    plan = await _plan(service, "Basic", 2999)
    customer, subscriber = unique("cust"), unique("sub")
    await service.add_customer(customer, timezone="UTC", subscriber_id=subscriber)
    async with service.service.deps.database.transaction() as session:
        await session.execute(insert(subscriptions).values(
            id=unique("old"), tenant_id=service.tenant, subscriber_id=subscriber, customer_id=customer, plan_id=plan,
            currency="EUR", start_date=date(2025, 2, 1), status="active", next_cycle=1,
            next_close_at=at("2030-01-01T00:00"),
        ))  # fmt: skip
    async with service.probe(topics.SUBSCRIPTIONS) as probe:
        [started] = await probe.wait_for(lambda e: e.data.get("customer_id") == customer)
    assert (started.type, started.data["backfilled"], started.data["mrr_after_minor"]) == (STARTED, True, 2999)


async def test_the_backfill_command_writes_the_missing_history_once(billing):
    from billing.backfill import backfill

    plan = await _plan(billing, "Basic", 2999)
    customer, subscriber = unique("cust"), unique("sub")
    await billing.add_customer(customer, timezone="UTC", subscriber_id=subscriber)
    async with billing.service.deps.database.transaction() as session:
        await session.execute(insert(subscriptions).values(
            id=unique("old"), tenant_id=billing.tenant, subscriber_id=subscriber, customer_id=customer, plan_id=plan,
            currency="EUR", start_date=date(2025, 2, 1), status="active", next_cycle=0,
            next_close_at=at("2030-01-01T00:00"),
        ))  # fmt: skip
    assert await backfill(billing.settings, billing.tenant) == 1
    assert await backfill(billing.settings, billing.tenant) == 0
    async with billing.probe(topics.SUBSCRIPTIONS) as probe:
        await probe.wait_for(lambda e: e.data.get("customer_id") == customer)
        events = [e for e in await probe.settle(1.5) if e.data.get("customer_id") == customer]
    assert [(e.type, e.data["backfilled"]) for e in events] == [(STARTED, True)]


async def test_a_cancellation_drops_a_downgrade_that_would_come_after_the_end_and_amounts_chain(billing):
    basic = await _plan(billing, "Basic", 2999)
    fast = await _plan(billing, "Fast", 4999)
    ultra = await _plan(billing, "Ultra", 7999)
    customer, _, sub = await _subscribed(billing, fast)
    billing.clock.set(at("2025-01-05T00:00"))
    await _change(billing, sub["id"], {"plan_id": ultra})  # at once
    billing.clock.set(at("2025-01-06T00:00"))
    scheduled = await _change(billing, sub["id"], {"plan_id": basic})  # at the cycle end
    assert scheduled["scheduled_change"]["plan_id"] == basic
    canceled = await billing.post(f"/billing/subscriptions/{sub['id']}/cancel", expect=200)
    assert canceled["last_day"] == "2025-01-31"
    assert (await billing.get(f"/billing/subscriptions/{sub['id']}"))["scheduled_change"] is None
    assert await _close(billing, at("2025-02-01T00:00")) == 1
    [jan] = await _invoices(billing, sub["id"])
    # Fast in full; 27 of 31 days: credit 4999 x 27/31 = 4353.97 -> 4354, charge 7999 x 27/31 = 6966.87 -> 6967
    assert _lines(jan) == [("subscription", 4999, 0), ("proration", -4354, 0), ("proration", 6967, 0)]

    async with billing.probe(topics.SUBSCRIPTIONS) as probe:
        events = await probe.wait_for(lambda e: e.data.get("customer_id") == customer, count=4)
    assert [e.type for e in events] == [STARTED, CHANGED, CANCELED, ENDED]  # the downgrade never took effect
    amounts = [(e.data["mrr_before_minor"], e.data["mrr_after_minor"]) for e in events]
    assert amounts == [(0, 4999), (4999, 7999), (7999, 7999), (7999, 0)]
    assert all(before == previous[1] for (before, _), previous in zip(amounts[1:], amounts, strict=False))
