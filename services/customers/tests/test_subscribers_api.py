"""Subscribers over HTTP: unique usernames per tenant, the lifecycle, its history and its events on Kafka."""

from __future__ import annotations

import pytest

from bss_contracts import topics
from bss_testkit.events import EventProbe

from .support import new_tenant

pytestmark = pytest.mark.timeout(120)


async def _customer(service, tenant) -> str:
    response = await service.client.post("/customers", json={"name": "Sub Owner"}, headers=service.headers(tenant))
    assert response.status_code == 201
    return str(response.json()["customer_id"])


async def test_usernames_are_unique_within_a_tenant(service, tenant):
    headers = service.headers(tenant, "support")
    cid = await _customer(service, tenant)
    first = await service.client.post(
        f"/customers/{cid}/subscribers", json={"username": "ada@fiber", "plan_id": "plan-1g"}, headers=headers
    )
    assert first.status_code == 201, first.text
    sub = first.json()
    assert (sub["customer_id"], sub["username"], sub["plan_id"], sub["status"]) == (
        cid,
        "ada@fiber",
        "plan-1g",
        "pending",
    )

    again = await service.client.post(f"/customers/{cid}/subscribers", json={"username": "ada@fiber"}, headers=headers)
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "username"]

    other = new_tenant()
    other_cid = await _customer(service, other)
    elsewhere = await service.client.post(
        f"/customers/{other_cid}/subscribers", json={"username": "ada@fiber"}, headers=service.headers(other)
    )
    assert elsewhere.status_code == 201

    blank = await service.client.post(
        f"/customers/{cid}/subscribers", json={"username": "ada lovelace"}, headers=headers
    )
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "username"]
    unknown = await service.client.post("/customers/nope/subscribers", json={"username": "z@fiber"}, headers=headers)
    assert unknown.status_code == 404

    listed = (await service.client.get(f"/customers/{cid}/subscribers", headers=headers)).json()
    assert [s["subscriber_id"] for s in listed["items"]] == [sub["subscriber_id"]] and listed["total"] == 1
    by_name = (await service.client.get("/subscribers", params={"username": "ada@fiber"}, headers=headers)).json()
    assert [s["subscriber_id"] for s in by_name["items"]] == [sub["subscriber_id"]]
    # The other tenant's subscriber of the same name is invisible here.
    assert (
        await service.client.get(f"/subscribers/{sub['subscriber_id']}", headers=service.headers(other))
    ).status_code == 404


async def test_lifecycle_over_http_with_history_and_events(service, tenant, kafka_bootstrap):
    headers = service.headers(tenant, "ops", subject="ops-user-7")
    cid = await _customer(service, tenant)
    sub = (
        await service.client.post(f"/customers/{cid}/subscribers", json={"username": "grace@dsl"}, headers=headers)
    ).json()
    sid = sub["subscriber_id"]

    async def act(action: str, reason: str | None = None):
        return await service.client.post(
            f"/subscribers/{sid}/{action}", json={"reason": reason} if reason else None, headers=headers
        )

    reinstate_pending = await act("reinstate")
    assert reinstate_pending.status_code == 409
    assert reinstate_pending.json()["detail"][0]["msg"] == "cannot reinstate a pending subscriber"

    assert (await act("activate")).json()["status"] == "active"
    assert (await act("activate")).status_code == 200  # already active: a no-op, announced once only
    suspended = (await act("suspend", "abuse report 118")).json()
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", "abuse report 118")
    assert (await act("reinstate", "cleared")).json()["status"] == "active"
    assert (await act("terminate", "moved away")).json()["status"] == "terminated"
    for action in ("activate", "suspend", "reinstate"):
        response = await act(action)
        assert response.status_code == 409, action
    assert (await act("terminate")).status_code == 200  # already terminated: no-op

    finance = service.headers(tenant, "finance")
    assert (await service.client.post(f"/subscribers/{sid}/suspend", headers=finance)).status_code == 403

    history = (await service.client.get(f"/subscribers/{sid}/history", headers=finance)).json()
    assert [(h["action"], h["previous_status"], h["status"], h["reason"]) for h in history] == [
        ("activate", "pending", "active", None),
        ("suspend", "active", "suspended", "abuse report 118"),
        ("reinstate", "suspended", "active", "cleared"),
        ("terminate", "active", "terminated", "moved away"),
    ]
    assert {h["requested_by"] for h in history} == {"ops-user-7"}
    assert all(h["cause_event_id"] is None for h in history)

    async with EventProbe(kafka_bootstrap, service.settings.kafka_topic_prefix, topics.SUBSCRIBERS) as probe:
        await probe.wait_for(lambda e: e.subject == sid, count=5)
        events = [e for e in await probe.settle(0.5) if e.subject == sid]
    assert [e.type.rsplit(".", 1)[1] for e in events] == [
        "created",
        "activated",
        "suspended",
        "reinstated",
        "terminated",
    ]
    assert all(e.tenant_id == tenant for e in events)
    suspended_event = events[2].data
    assert suspended_event["previous_status"] == "active" and suspended_event["status"] == "suspended"
    assert suspended_event["reason"] == "abuse report 118" and suspended_event["requested_by"] == "ops-user-7"
    assert (suspended_event["customer_id"], suspended_event["username"]) == (cid, "grace@dsl")

    filtered = (
        await service.client.get("/subscribers", params={"status": "terminated", "customer_id": cid}, headers=finance)
    ).json()
    assert [s["subscriber_id"] for s in filtered["items"]] == [sid]
