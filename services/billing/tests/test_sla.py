"""SLA: outages reported over HTTP by monitoring, breaches detected early or at period end, credits that
match the rule (credit notes applied to balances), SlaBreachDetected / SlaCreditIssued / SlaBreachResolved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bss_contracts import topics

from .support import of_type, unique

DETECTED, CREDITED, RESOLVED = (
    "bss.billing.sla.breach-detected",
    "bss.billing.sla.credit-issued",
    "bss.billing.sla.breach-resolved",
)
CREDIT_NOTE = "bss.billing.credit-note.issued"


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2025-{text}:00+00:00").astimezone(UTC)


async def _instance(billing, customer: str, **definition: object) -> dict[str, Any]:
    created = await billing.post("/billing/sla/definitions", {
        "name": unique("Business 99.9"), "target_percent": "99.9", "measurement_period": "month",
        "step_percent": "0.1", "credit_percent_per_step": "10", "cap_percent": "50", **definition,
    })  # fmt: skip
    instance: dict[str, Any] = await billing.post("/billing/sla/instances", {
        "definition_id": created["id"], "customer_id": customer, "service_name": "Business Fibre 1G",
        "monthly_fee_minor": 10_000, "currency": "EUR",
    })  # fmt: skip
    return instance


async def _outage(billing, instance_id: str, start: str, end: str | None = None, expect: int = 201,
                  **extra: Any) -> dict[str, Any]:  # fmt: skip
    body = {"started_at": at(start).isoformat(), "ended_at": at(end).isoformat() if end else None} | extra
    path = f"/billing/sla/instances/{instance_id}/outages"
    result: dict[str, Any] = await billing.post(path, body, roles=("service",), expect=expect)
    return result


async def _evaluate(billing, moment: str) -> int:
    billing.clock.set(at(moment))
    return int((await billing.post("/billing/sla/evaluate", roles=("ops",), expect=200))["processed"])


async def test_breach_detected_as_soon_as_the_target_is_lost_and_credited_per_the_rule(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    billing.clock.set(at("04-01T00:00"))
    instance = await _instance(billing, customer)
    inv = await billing.invoice(customer, ("April", 2_500))  # SLA credit goes to the open balance first

    async with billing.probe(topics.SLA, topics.INVOICES) as probe:
        # April has 2,592,000 s: 99.9 % allows 2,592 s down. One hour lost: the target is out of reach at once.
        billing.clock.set(at("04-03T12:00"))
        await _outage(billing, instance["id"], "04-03T10:00", "04-03T11:00", external_id="mon-1")
        [detected] = await probe.wait_for(lambda e: e.type == DETECTED)
        # 100 * (1 - 3600/2592000) = 99.861111 %: 0.0389 points below, 1 step -> 10 % of 100.00 = 10.00.
        assert {k: detected.data[k] for k in ("instance_id", "customer_id", "severity", "target_value",
                "actual_value", "credit_amount_minor", "currency", "period_start", "period_end",
                "service_name")} == {
            "instance_id": instance["id"], "customer_id": customer, "severity": "minor", "target_value": 99.9,
            "actual_value": 99.861111, "credit_amount_minor": 1_000, "currency": "EUR",
            "period_start": "2025-04-01T00:00:00Z", "period_end": "2025-05-01T00:00:00Z",
            "service_name": "Business Fibre 1G",
        }  # fmt: skip
        [credited] = await probe.wait_for(lambda e: e.type == CREDITED)
        assert (credited.data["amount_minor"], credited.data["breach_id"]) == (1_000, detected.data["breach_id"])
        assert "1 step(s) below" in credited.data["rule"]
        assert (await billing.get(f"/billing/invoices/{inv['id']}"))["balance_minor"] == 1_500

        # The same report again (monitoring retries): the same outage, nothing new.
        again = await _outage(billing, instance["id"], "04-03T10:00", "04-03T11:00", expect=200, external_id="mon-1")
        assert again["ended_at"] == "2025-04-03T11:00:00Z"
        # Two more outages that overlap (08:00-10:30 counts 9,000 s once): 12,600 s down in all.
        billing.clock.set(at("04-10T12:00"))
        await _outage(billing, instance["id"], "04-10T08:00", "04-10T10:00")
        await _outage(billing, instance["id"], "04-10T09:00", "04-10T10:30")
        [breach] = await billing.get("/billing/sla/breaches", instance_id=instance["id"])
        assert (breach["credited_minor"], breach["final"]) == (1_000, False)  # top-ups wait for the period end
        assert round(breach["actual_percent"], 6) == 99.513889

        # The period ends: 99.513889 % is 0.386 points below, 4 steps: 40 % = 40.00; 30.00 more.
        assert await _evaluate(billing, "04-30T23:59") == 0
        assert await _evaluate(billing, "05-01T00:00") == 1
        assert await _evaluate(billing, "05-01T01:00") == 0
        [breach] = await billing.get("/billing/sla/breaches", instance_id=instance["id"])
        assert (breach["credited_minor"], breach["final"], breach["severity"]) == (4_000, True, "minor")
        await probe.wait_for(lambda e: e.type == CREDITED, count=2)
        seen = await probe.settle(1.0)

    assert [e.data["amount_minor"] for e in of_type(seen, CREDITED)] == [1_000, 3_000]
    assert len(of_type(seen, DETECTED)) == 1
    notes = of_type(seen, CREDIT_NOTE, kind="sla")
    assert [(n.data["amount_minor"], n.data["applied_minor"], n.data["sla_breach_id"]) for n in notes] == [
        (1_000, 1_000, breach["id"]), (3_000, 1_500, breach["id"]),
    ]  # fmt: skip
    assert [c["credit_note_id"] for c in (e.data for e in of_type(seen, CREDITED))] == [
        n.data["credit_note_id"] for n in notes
    ]
    assert (await billing.get(f"/billing/invoices/{inv['id']}"))["status"] == "paid"
    assert (await billing.get(f"/billing/customers/{customer}"))["credits"] == [
        {"currency": "EUR", "balance_minor": 1_500}
    ]

    async with billing.probe(topics.SLA) as probe:
        resolved = await billing.post(f"/billing/sla/breaches/{breach['id']}/resolve",
                                      {"resolution": "fibre cut repaired"}, roles=("ops",), expect=200)  # fmt: skip
        assert (resolved["status"], resolved["resolution"]) == ("resolved", "fibre cut repaired")
        [event] = await probe.wait_for(lambda e: e.type == RESOLVED)
        assert (event.data["breach_id"], event.data["resolution"]) == (breach["id"], "fibre cut repaired")
    await billing.post(f"/billing/sla/breaches/{breach['id']}/resolve", {"resolution": "x"}, roles=("ops",),
                       expect=409)  # fmt: skip


async def test_an_ongoing_outage_breaches_early_and_the_credit_is_capped(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    billing.clock.set(at("05-01T00:00"))
    instance = await _instance(billing, customer)
    async with billing.probe(topics.SLA) as probe:
        # May has 2,678,400 s: 2,678.4 s allowed. Reported while it goes on: 600 s so far, the target holds.
        billing.clock.set(at("05-05T00:10"))
        await _outage(billing, instance["id"], "05-05T00:00", external_id="mon-9")
        assert await billing.get("/billing/sla/breaches", instance_id=instance["id"]) == []
        status = (await billing.get(f"/billing/sla/instances/{instance['id']}", roles=("support",)))["current_period"]
        assert (status["downtime_seconds"], status["target_reachable"]) == (600.0, True)
        # The scheduler watches ongoing outages: after 3,600 s the target is lost.
        assert await _evaluate(billing, "05-05T00:44") == 1
        assert await billing.get("/billing/sla/breaches", instance_id=instance["id"]) == []
        await _evaluate(billing, "05-05T01:00")
        [detected] = await probe.wait_for(lambda e: e.type == DETECTED)
        assert (detected.data["credit_amount_minor"], detected.data["actual_value"]) == (1_000, 99.865591)

        # Monitoring reports the end (the same external_id): two days down, 93.548 %: 64 steps, capped at 50 %.
        billing.clock.set(at("05-07T00:05"))
        ended = await _outage(billing, instance["id"], "05-05T00:00", "05-07T00:00", expect=200, external_id="mon-9")
        assert ended["ended_at"] == "2025-05-07T00:00:00Z"
        await _evaluate(billing, "06-01T00:00")
        await probe.wait_for(lambda e: e.type == CREDITED, count=2)
        seen = await probe.settle(0.5)
    assert [e.data["amount_minor"] for e in of_type(seen, CREDITED)] == [1_000, 4_000]
    assert "(capped)" in of_type(seen, CREDITED)[1].data["rule"]
    [breach] = await billing.get("/billing/sla/breaches", instance_id=instance["id"])
    assert (breach["credited_minor"], breach["severity"], breach["final"]) == (5_000, "critical", True)
    assert (await billing.get(f"/billing/customers/{customer}"))["credits"] == [
        {"currency": "EUR", "balance_minor": 5_000}
    ]


async def test_no_breach_no_credit_and_outage_reports_are_checked(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    billing.clock.set(at("06-01T00:00"))
    instance = await _instance(billing, customer)
    billing.clock.set(at("06-10T00:00"))
    # June: 2,592 s allowed; 2,500 s down keeps 99.9035 %.
    await _outage(billing, instance["id"], "06-02T10:00", "06-02T10:41:40")
    assert await _evaluate(billing, "07-01T00:00") == 1
    assert await billing.get("/billing/sla/breaches", instance_id=instance["id"]) == []

    path = f"/billing/sla/instances/{instance['id']}/outages"
    body = {"started_at": at("07-01T00:00").isoformat()}
    assert (await billing.client.post(path, json=body, headers=billing.auth("finance"))).status_code == 403
    future = await billing.client.post(path, json={"started_at": at("07-02T00:00").isoformat()},
                                       headers=billing.auth("ops"))  # fmt: skip
    assert (future.status_code, future.json()["detail"][0]["loc"]) == (422, ["body", "started_at"])
    reversed_times = {"started_at": at("06-20T10:00").isoformat(), "ended_at": at("06-20T09:00").isoformat()}
    backwards = await billing.client.post(path, json=reversed_times, headers=billing.auth("ops"))
    assert (backwards.status_code, backwards.json()["detail"][0]["loc"]) == (422, ["body", "ended_at"])
    naive = await billing.client.post(path, json={"started_at": "2025-06-20T10:00:00"}, headers=billing.auth("ops"))
    assert naive.status_code == 422
    missing = await billing.client.post("/billing/sla/instances/nope/outages", json=body, headers=billing.auth("ops"))
    assert missing.status_code == 404
