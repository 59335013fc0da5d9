"""The HTTP API: campaigns CRUD with validation and roles, executions with filters, cancel, stats."""

from __future__ import annotations

from datetime import timedelta

from bss_contracts import topics
from bss_testkit.events import EventProbe, eventually, publish_events

from .support import TENANT, campaign_body, customer_created, overdue, subscriber_events, unique

SECRET = "a-webhook-secret-of-some-length"
FULL = campaign_body(
    "Residential",
    {"type": "email", "template": {"subject": "Overdue {{ invoice.number }}", "body": "Pay {{ invoice.balance }}",
                                   "html": "<b>{{ customer.name }}</b>"}},
    {"type": "webhook", "delay_days": 1, "config": {"url": "https://crm.example/hooks/dunning"}},
    {"type": "suspend_service", "delay_days": 7},
    description="Standard residential collections",
    trigger=3,
    exclusion_rules={"min_outstanding_minor": {"EUR": 500}, "customer_tags": ["vip"],
                     "no_suspension_weekdays": ["saturday", "sunday"], "holidays": ["2025-12-25"],
                     "timezone": "Europe/Berlin"},
    priority=5,
    webhook_secret=SECRET,
)  # fmt: skip


async def test_campaigns_crud_validation_and_roles(start_dunning, smtp):
    dunning = await start_dunning(smtp_port=smtp.port)
    manager, reader = dunning.auth("collections"), dunning.auth("finance")
    client = dunning.client

    created = await client.post("/dunning/campaigns", json=FULL, headers=manager)
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["has_webhook_secret"] is True and "webhook_secret" not in campaign
    assert [a["type"] for a in campaign["actions"]] == ["email", "webhook", "suspend_service"]
    assert campaign["exclusion_rules"]["min_outstanding_minor"] == {"EUR": 500}
    assert campaign["statistics"] == {"total_executions": 0, "active_executions": 0, "successful_executions": 0,
                                      "failed_executions": 0, "canceled_executions": 0, "recovered": []}  # fmt: skip

    # Reading: finance and support may; writing: only collections (and admin).
    assert (await client.get(f"/dunning/campaigns/{campaign['id']}", headers=reader)).json()["name"] == "Residential"
    assert (await client.get("/dunning/campaigns", headers=dunning.auth("support"))).status_code == 200
    assert (await client.post("/dunning/campaigns", json=FULL, headers=reader)).status_code == 403
    assert (await client.get("/dunning/campaigns")).status_code == 401
    admin = dunning.auth("admin")
    assert (await client.patch(f"/dunning/campaigns/{campaign['id']}", json={"priority": 6}, headers=admin)).json()[
        "priority"] == 6  # fmt: skip
    # Another tenant sees nothing of it.
    other = dunning.auth("collections", tenant="isp-2")
    assert (await client.get(f"/dunning/campaigns/{campaign['id']}", headers=other)).status_code == 404
    assert (await client.get("/dunning/campaigns", headers=other)).json() == []

    # Bad input: 4xx with the field named.
    duplicate = await client.post("/dunning/campaigns", json=FULL, headers=manager)
    assert duplicate.status_code == 409 and duplicate.json()["detail"][0]["loc"] == ["body", "name"]
    broken = FULL | {
        "name": "Broken",
        "actions": [{"type": "email", "template": {"subject": "s", "body": "{{ invoice.nope }}"}}],
    }
    answer = await client.post("/dunning/campaigns", json=broken, headers=manager)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "actions.0.template.body"]
    assert "nope" in answer.json()["detail"][0]["msg"]
    unknown_type = FULL | {"name": "Unknown", "actions": [{"type": "fax"}]}
    assert (await client.post("/dunning/campaigns", json=unknown_type, headers=manager)).status_code == 422
    unsigned = FULL | {"name": "Unsigned", "webhook_secret": None}
    answer = await client.post("/dunning/campaigns", json=unsigned, headers=manager)
    assert answer.status_code == 422 and "webhook_secret" in answer.text
    bad_patch = await client.patch(f"/dunning/campaigns/{campaign['id']}", json={"trigger_after_days": -1},
                                   headers=manager)  # fmt: skip
    assert bad_patch.status_code == 422 and bad_patch.json()["detail"][0]["loc"][-1] == "trigger_after_days"
    bad_zone = FULL | {"name": "Zone", "exclusion_rules": {"timezone": "Mars/Olympus"}}
    assert (await client.post("/dunning/campaigns", json=bad_zone, headers=manager)).status_code == 422

    # Change and deactivate; list by activity; delete.
    changed = await client.patch(f"/dunning/campaigns/{campaign['id']}", json={"is_active": False,
                                 "trigger_after_days": 10}, headers=manager)  # fmt: skip
    assert changed.status_code == 200
    assert (changed.json()["is_active"], changed.json()["trigger_after_days"], changed.json()["priority"]) == (
        False, 10, 6)  # fmt: skip
    assert (await client.get("/dunning/campaigns", params={"active": "true"}, headers=reader)).json() == []
    assert (await client.delete(f"/dunning/campaigns/{campaign['id']}", headers=reader)).status_code == 403
    assert (await client.delete(f"/dunning/campaigns/{campaign['id']}", headers=manager)).status_code == 204
    assert (await client.get(f"/dunning/campaigns/{campaign['id']}", headers=reader)).status_code == 404


async def test_executions_list_detail_cancel_and_stats(start_dunning, smtp, kafka_bootstrap, prefix):
    dunning = await start_dunning(smtp_port=smtp.port, workers=True)
    manager = dunning.auth("collections", subject="carol")
    body = campaign_body("Suspend now", {"type": "suspend_service"}, {"type": "email", "delay_days": 10})
    campaign = (await dunning.client.post("/dunning/campaigns", json=body, headers=manager)).json()
    customer, subscriber, other = unique("cust"), unique("sub"), unique("cust")
    events = [customer_created(customer, email="dan@example.net"), *subscriber_events(subscriber, customer),
              customer_created(other, email="eve@example.net")]  # fmt: skip
    await publish_events(kafka_bootstrap, prefix, *[(e, TENANT) for e in events])
    invoices = [unique("inv") for _ in range(3)]

    async with EventProbe(kafka_bootstrap, prefix, topics.SUBSCRIBER_COMMANDS, topics.DUNNING) as probe:
        await eventually(lambda: _customer_known(dunning, customer))
        await eventually(lambda: _customer_known(dunning, other))
        # The first invoice bills the subscriber; the others are another customer's, who has none to suspend.
        await publish_events(kafka_bootstrap, prefix, *[
            (overdue(inv, customer, subscriber_id=subscriber, balance=1000), TENANT) if n == 0 else
            (overdue(inv, other, balance=1000 * (n + 1)), TENANT)
            for n, inv in enumerate(invoices)])  # fmt: skip
        await eventually(lambda: _count(dunning, 3, status="in_progress"))

        page = await dunning.get("/dunning/executions", params={"limit": 2})
        assert (page["total"], len(page["items"]), page["limit"]) == (3, 2, 2)
        [first] = await dunning.executions(invoice_id=invoices[0])
        assert (first["campaign_id"], first["outstanding_minor"], first["suspended_subscriber_ids"]) == (
            campaign["id"], 1000, [subscriber])  # fmt: skip
        assert await dunning.executions(status="completed") == []
        assert len(await dunning.executions(campaign_id=campaign["id"], customer_id=other)) == 2
        bad_filter = await dunning.client.get("/dunning/executions", params={"status": "lost"},
                                              headers=dunning.auth("finance"))  # fmt: skip
        assert bad_filter.status_code == 422

        detail = await dunning.get(f"/dunning/executions/{first['id']}")
        assert [a["type"] for a in detail["actions"]] == ["suspend_service", "email"]
        [log] = detail["logs"]
        assert (log["action_type"], log["status"], log["result"]["requested"]) == (
            "suspend_service", "succeeded", [subscriber])  # fmt: skip

        # Canceling needs collections; it can reinstate what the execution suspended.
        path = f"/dunning/executions/{first['id']}/cancel"
        reason = {"reason": "payment plan agreed", "reinstate_subscriber": True}
        assert (await dunning.client.post(path, json=reason, headers=dunning.auth("support"))).status_code == 403
        assert (await dunning.client.post(path, json={"reason": ""}, headers=manager)).status_code == 422
        canceled = await dunning.client.post(path, json=reason, headers=manager)
        assert canceled.status_code == 200, canceled.text
        assert (canceled.json()["status"], canceled.json()["canceled_reason"], canceled.json()["canceled_by"]) == (
            "canceled", "payment plan agreed", "carol")  # fmt: skip
        assert (await dunning.client.post(path, json=reason, headers=manager)).status_code == 409
        [reinstate] = await probe.wait_for(lambda e: e.type == "bss.customers.subscriber.reinstatement-requested")
        assert reinstate.data["subscriber_id"] == subscriber
        [event] = await probe.wait_for(lambda e: e.type == "bss.dunning.execution.canceled")
        assert (event.data["reason"], event.data["canceled_by"]) == ("payment plan agreed", "carol")
        missing = await dunning.client.post("/dunning/executions/nope/cancel", json=reason, headers=manager)
        assert missing.status_code == 404

    await dunning.advance(timedelta(days=10))  # the canceled execution sends no email, the others do
    # The service's own worker loop may have claimed one of the steps (SKIP LOCKED): wait for its mail too.
    await eventually(lambda: len(smtp.messages) >= len(invoices) - 1, timeout=20)
    assert sorted(m["Subject"] for m in smtp.messages) == sorted(
        f"Invoice INV-{inv[-6:]} is overdue" for inv in invoices[1:])  # fmt: skip
    stats = await dunning.get("/dunning/stats")
    assert {k: stats[k] for k in ("total_campaigns", "active_campaigns", "total_executions", "active_executions",
                                  "canceled_executions", "completed_executions")} == {
        "total_campaigns": 1, "active_campaigns": 1, "total_executions": 3, "active_executions": 2,
        "canceled_executions": 1, "completed_executions": 0}  # fmt: skip
    assert stats["amounts"] == [
        {"currency": "EUR", "initial_outstanding_minor": 6000, "outstanding_minor": 6000, "recovered_minor": 0}
    ]
    assert stats["average_recovery_rate"] == 0.0
    # A campaign with executions cannot be deleted (their history refers to it).
    gone = await dunning.client.delete(f"/dunning/campaigns/{campaign['id']}", headers=manager)
    assert gone.status_code == 409
    assert (await dunning.get(f"/dunning/invoices/{invoices[1]}"))["status"] == "overdue"


async def _customer_known(dunning, customer_id: str) -> bool:
    from dunning.adapters import repository as repo

    async with dunning.service.deps.database.transaction() as session:
        return await repo.get_customer(session, TENANT, customer_id) is not None


async def _count(dunning, n: int, **filters: str) -> bool:
    return len(await dunning.executions(**filters)) == n
