"""A poison event dead-lettered by the real customers consumer, fixed, redriven (twice: one effect), and the
flow it belongs to traced across topics as a causation tree."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from bss_contracts import Envelope, topics
from bss_contracts.events.billing import InvoiceOverdue
from bss_contracts.events.customers import SubscriberSuspensionRequested
from bss_testkit.events import EventProbe, eventually
from bss_testkit.plugin import plain_postgres_url

from .customers_service import Customers, running
from .support import Bssctl, send

pytestmark = pytest.mark.timeout(240)

TENANT = "isp-dlq"


@pytest.fixture(scope="module")
async def customers(kafka_bootstrap: str, prefix: str, fresh_database: Any) -> AsyncIterator[Customers]:
    async with running(await fresh_database("customers"), kafka_bootstrap, prefix) as service:
        yield service


async def _publish(bootstrap: str, prefix: str, envelope: Envelope[Any]) -> None:
    await send(
        bootstrap,
        prefix + envelope.data.topic.name,
        [envelope.model_dump_json().encode()],
        key=envelope.subject.encode(),
        headers=[(k, v.encode()) for k, v in envelope.headers().items()],
    )


async def _dead_letters(bssctl: Bssctl) -> list[dict[str, Any]]:
    ran = await bssctl("dlq", "list", "--json")
    assert ran.code == 0, ran
    rows: list[dict[str, Any]] = ran.json()
    return rows


async def _end_offset(bssctl: Bssctl, topic: str) -> int:
    [row] = [r for r in (await bssctl("topics", "--json")).json() if r["topic"] == topic]
    return sum(row["end_offsets"].values())


async def _caught_up(bssctl: Bssctl) -> bool:
    ran = await bssctl("lag", "--service", "customers", "--max-lag", "0")
    return ran.code == 0


async def test_a_fixed_poison_event_redriven_twice_has_one_effect_and_its_flow_traces_as_a_tree(
    bssctl: Bssctl, customers: Customers, kafka_bootstrap: str, prefix: str
):
    customer, subscriber = await customers.active_subscriber(TENANT)
    # The flow: billing finds an invoice overdue; dunning asks customers to suspend the subscriber. The request
    # id is longer than customers' column (64): the insert fails, not the database: a poison message.
    overdue = Envelope.wrap(
        InvoiceOverdue(
            invoice_id=f"inv-{uuid.uuid4().hex[:8]}",
            invoice_number="2026-0042",
            customer_id=customer,
            subscriber_id=subscriber,
            currency="EUR",
            due_date=date(2026, 11, 1),
            total_minor=4200,
            balance_minor=4200,
            days_past_due=30,
            detected_at=datetime.now(UTC),
        ),
        source="/services/billing",
        tenant_id=TENANT,
    )
    request = Envelope.wrap(
        SubscriberSuspensionRequested(
            request_id="r" * 80,
            subscriber_id=subscriber,
            customer_id=customer,
            reason="invoice 30 days overdue",
            requested_by="dunning",
            invoice_id=overdue.data.invoice_id,
            requested_at=datetime.now(UTC),
        ),
        source="/services/dunning",
        tenant_id=TENANT,
        correlation_id=overdue.correlation_id,
        causation_id=overdue.id,
    )
    await _publish(kafka_bootstrap, prefix, overdue)
    await _publish(kafka_bootstrap, prefix, request)

    async def dead_lettered() -> list[dict[str, Any]]:
        return [d for d in await _dead_letters(bssctl) if d["event_id"] == str(request.id)]

    [letter] = await eventually(dead_lettered, timeout=60, interval=1)
    assert letter["reason"] == "handler-failed" and letter["group"] == f"{prefix}customers"
    assert letter["event_type"] == SubscriberSuspensionRequested.event_type
    assert letter["source"].startswith(f"{prefix}{topics.SUBSCRIBER_COMMANDS.name}:")
    assert "value too long for type character varying(64)" in letter["error"] and letter["redriven"] == []
    assert await customers.status(TENANT, subscriber) == "active"

    before = await bssctl("dlq", "list", "--until", "2020-01-01T00:00:00", "--json")
    assert before.code == 0 and before.json() == []
    window = await bssctl(
        "dlq",
        "redrive",
        "--id",
        str(request.id),
        "--since",
        "10m",
        "--until",
        "2030-01-01T00:00:00",
        "--dry-run",
        "--json",
    )
    assert [r["action"] for r in window.json()] == ["would redrive"]

    shown = await bssctl("dlq", "show", str(request.id), "--json")
    assert shown.code == 0, shown
    [record] = shown.json()
    assert record["headers"]["dlq.reason"] == "handler-failed"
    assert record["headers"]["dlq.original.offset"] == letter["source"].rsplit(":", 1)[1]
    assert record["envelope"]["id"] == str(request.id) and record["redrives"] == []
    assert "dlq.error: " in (await bssctl("dlq", "show", letter["ref"])).out

    # The fix ships: the columns are widened.
    conn = await asyncpg.connect(plain_postgres_url(customers.settings.database_url))
    try:
        for table in ("subscriber_requests", "subscriber_status_changes"):
            await conn.execute(f"ALTER TABLE {table} ALTER COLUMN request_id TYPE varchar(128)")
    finally:
        await conn.close()

    requests_end = await _end_offset(bssctl, topics.SUBSCRIBER_COMMANDS.name)
    dry = await bssctl("dlq", "redrive", "--id", str(request.id), "--dry-run", "--json")
    assert dry.code == 0 and [r["action"] for r in dry.json()] == ["would redrive"]
    assert await _end_offset(bssctl, topics.SUBSCRIBER_COMMANDS.name) == requests_end  # nothing was sent

    async with EventProbe(kafka_bootstrap, prefix, topics.SUBSCRIBERS) as probe:
        first = await bssctl("dlq", "redrive", "--id", str(request.id), "--by", "ops-test", "--json")
        assert first.code == 0, first
        [done] = first.json()
        assert done["action"] == "redriven"
        assert done["to"].startswith(f"{prefix}{topics.SUBSCRIBER_COMMANDS.name}:{letter['source'].split(':')[1]}:")
        [suspended] = await probe.wait_for(lambda e: e.subject == subscriber and e.type.endswith(".suspended"))
        assert suspended.causation_id == request.id and suspended.correlation_id == overdue.id
        assert await customers.status(TENANT, subscriber) == "suspended"

        # Once more: bssctl knows it was redriven and skips it; forced, the consumer skips it.
        skipped = await bssctl("dlq", "redrive", "--id", str(request.id), "--json")
        assert [r["action"] for r in skipped.json()] == ["skipped"]
        forced = await bssctl("dlq", "redrive", "--id", str(request.id), "--force", "--json")
        assert [r["action"] for r in forced.json()] == ["redriven"]
        await eventually(lambda: _caught_up(bssctl), timeout=60, interval=1)
        await probe.settle(1.0)

    effects = [e for e in probe.seen if e.subject == subscriber and e.type.endswith(".suspended")]
    assert len(effects) == 1
    tail = await bssctl("tail", topics.SUBSCRIBER_COMMANDS.name, "--from-beginning", "--key", subscriber, "--json")
    assert [json.loads(x)["envelope"]["id"] for x in tail.lines()] == [str(request.id)] * 3
    conn = await asyncpg.connect(plain_postgres_url(customers.settings.database_url))
    try:
        processed = await conn.fetchval("select count(*) from processed_events where event_id = $1", request.id)
        changes = await conn.fetchval(
            "select count(*) from subscriber_status_changes where subscriber_id = $1 and action = 'suspend'", subscriber
        )
    finally:
        await conn.close()
    assert (processed, changes) == (1, 1)
    [listed] = [d for d in await _dead_letters(bssctl) if d["event_id"] == str(request.id)]
    assert [r["by"] for r in listed["redriven"]] == ["ops-test", listed["redriven"][1]["by"]]
    assert len({r["redrive_id"] for r in listed["redriven"]}) == 2

    # The flow, from any of its ids: overdue -> suspension requested -> subscriber suspended.
    for ident in (str(overdue.id), overdue.data.invoice_id, str(request.id)):
        traced = await bssctl("trace", ident, "--since", "1h", "--json")
        assert traced.code == 0, traced
        [root] = traced.json()
        assert root["id"] == str(overdue.id) and root["topic"] == topics.INVOICES.name
        [child] = root["caused"]
        assert (child["id"], child["topic"]) == (str(request.id), topics.SUBSCRIBER_COMMANDS.name)
        [grandchild] = child["caused"]
        assert (grandchild["id"], grandchild["type"]) == (str(suspended.id), suspended.type)
        assert grandchild["caused"] == []
    tree = (await bssctl("trace", str(overdue.id), "--since", "1h")).lines()
    assert [line.split()[0] for line in tree] == [
        InvoiceOverdue.event_type,
        "└─",
        "└─",
    ]
    assert tree[1].strip().startswith(f"└─ {SubscriberSuspensionRequested.event_type}")
    assert tree[2].startswith("   └─ bss.customers.subscriber.suspended")
