"""Requests from dunning arriving on Kafka: applied once, announced once, answered for when impossible."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from bss_contracts import topics
from bss_contracts.events.customers import SubscriberReinstatementRequested, SubscriberTerminationRequested
from bss_testkit.events import EventProbe, eventually, publish_events

from .support import redeliver, suspension

pytestmark = pytest.mark.timeout(120)


async def _active_subscriber(service, tenant) -> tuple[str, str]:
    headers = service.headers(tenant)
    cid = (await service.client.post("/customers", json={"name": "Late Payer"}, headers=headers)).json()["customer_id"]
    sub = await service.client.post(
        f"/customers/{cid}/subscribers", json={"username": f"{uuid.uuid4().hex[:8]}@isp"}, headers=headers
    )
    sid = sub.json()["subscriber_id"]
    assert (await service.client.post(f"/subscribers/{sid}/activate", headers=headers)).status_code == 200
    return cid, sid


def _request(kind, sid: str, cid: str, reason: str):
    return kind(
        request_id=str(uuid.uuid4()), subscriber_id=sid, customer_id=cid, reason=reason, requested_by="dunning",
        requested_at=datetime.now(UTC),
    )  # fmt: skip


async def _status(service, tenant, sid) -> str:
    response = await service.client.get(f"/subscribers/{sid}", headers=service.headers(tenant))
    return str(response.json()["status"])


async def test_a_suspension_request_from_kafka_is_applied_and_announced_once_even_when_redelivered(
    service, tenant, kafka_bootstrap
):
    prefix = service.settings.kafka_topic_prefix
    cid, sid = await _active_subscriber(service, tenant)
    [request] = await publish_events(
        kafka_bootstrap, prefix, (suspension(sid, cid), tenant), source="/services/dunning"
    )

    async with EventProbe(kafka_bootstrap, prefix, topics.SUBSCRIBERS) as probe:
        [suspended] = await probe.wait_for(lambda e: e.subject == sid and e.type.endswith(".suspended"))
        assert suspended.causation_id == request.id
        assert suspended.correlation_id == request.correlation_id
        assert suspended.tenant_id == tenant
        assert suspended.data["previous_status"] == "active" and suspended.data["status"] == "suspended"
        assert suspended.data["reason"] == "invoice 2025-0042 is 30 days overdue"
        assert suspended.data["requested_by"] == "dunning"
        assert await _status(service, tenant, sid) == "suspended"

        # Reinstated: from here a suspension applied a second time would show (a new event, status suspended).
        reinstate = _request(SubscriberReinstatementRequested, sid, cid, "invoice paid")
        [reinstated] = await publish_events(kafka_bootstrap, prefix, (reinstate, tenant), source="/services/dunning")
        await probe.wait_for(lambda e: e.subject == sid and e.causation_id == reinstated.id)

        # The same envelope again (same id), then the same request in a new envelope (same request_id), then a
        # marker on the same partition: once the marker is recorded, both were consumed before it.
        await redeliver(kafka_bootstrap, prefix, request)
        await publish_events(kafka_bootstrap, prefix, (request.data, tenant), source="/services/dunning")
        marker = _request(SubscriberReinstatementRequested, sid, cid, "marker: already active")
        await publish_events(kafka_bootstrap, prefix, (marker, tenant), source="/services/dunning")

        async def requests():
            response = await service.client.get(f"/subscribers/{sid}/requests", headers=service.headers(tenant))
            rows = response.json()
            return rows if any(r["request_id"] == marker.request_id for r in rows) else None

        log = await eventually(requests)
        await probe.settle(0.5)

    mine = [e for e in probe.seen if e.subject == sid]
    assert [e.type.rsplit(".", 1)[1] for e in mine] == ["created", "activated", "suspended", "reinstated"]
    assert await _status(service, tenant, sid) == "active"
    assert [(r["request_id"], r["action"], r["outcome"]) for r in log] == [
        (request.data.request_id, "suspend", "applied"),
        (reinstate.request_id, "reinstate", "applied"),
        (marker.request_id, "reinstate", "no_op"),
    ]
    assert (log[0]["event_id"], log[0]["invoice_id"], log[0]["dunning_execution_id"]) == (
        str(request.id),
        "inv-42",
        "exe-7",
    )
    history = (
        await service.client.get(f"/subscribers/{sid}/history", headers=service.headers(tenant, "collections"))
    ).json()
    assert [(h["action"], h["cause_event_id"], h["requested_by"]) for h in history] == [
        ("activate", None, "user-1"),
        ("suspend", str(request.id), "dunning"),
        ("reinstate", str(reinstated.id), "dunning"),
    ]


async def test_requests_that_change_nothing_or_cannot_apply_are_recorded_not_dead_lettered(
    service, tenant, kafka_bootstrap
):
    prefix = service.settings.kafka_topic_prefix
    cid, sid = await _active_subscriber(service, tenant)
    terminate = _request(SubscriberTerminationRequested, sid, cid, "90 days overdue")
    reinstate = _request(SubscriberReinstatementRequested, sid, cid, "paid after all")
    stranger = _request(SubscriberTerminationRequested, sid, "someone-else", "wrong customer")
    ghost = _request(SubscriberTerminationRequested, "no-such-subscriber", cid, "unknown")
    again = suspension(sid, cid)
    published = await publish_events(
        kafka_bootstrap, prefix, *[(e, tenant) for e in (stranger, terminate, reinstate, again, ghost)]
    )

    async def outcomes():
        rows = (await service.client.get(f"/subscribers/{sid}/requests", headers=service.headers(tenant))).json()
        return {r["request_id"]: (r["outcome"], r["detail"]) for r in rows} if len(rows) == 4 else None

    recorded = await eventually(outcomes)
    assert recorded == {
        stranger.request_id: ("rejected", f"subscriber belongs to customer {cid}"),
        terminate.request_id: ("applied", None),
        reinstate.request_id: ("rejected", "cannot reinstate a terminated subscriber"),
        again.request_id: ("rejected", "cannot suspend a terminated subscriber"),
    }

    async def ghost_log():
        response = await service.client.get("/subscribers/no-such-subscriber/requests", headers=service.headers(tenant))
        return [(r["outcome"], r["detail"]) for r in response.json()]

    assert await eventually(ghost_log) == [("rejected", "no subscriber no-such-subscriber")]

    async with EventProbe(
        kafka_bootstrap, prefix, topics.SUBSCRIBERS, f"{topics.SUBSCRIBER_COMMANDS.name}.dlq"
    ) as probe:
        await probe.wait_for(lambda e: e.subject == sid and e.type.endswith(".terminated"))
        await probe.settle(0.5)
    mine = [e for e in probe.seen if e.subject == sid]
    assert [e.type.rsplit(".", 1)[1] for e in mine] == ["created", "activated", "terminated"]
    assert mine[-1].causation_id == published[1].id
    assert not [
        e for e in probe.seen if e.tenant_id == tenant and e.type.endswith("requested")
    ]  # nothing dead-lettered
