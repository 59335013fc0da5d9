"""`bssctl trace` of a whole collections flow produced by the running services: billing's InvoiceOverdue (published
here as billing's relay would) -> dunning starts an execution -> its suspension step asks customers to suspend ->
customers suspends the subscriber. Dunning and customers run in-process on fresh databases and this module's
topics; dunning's clock is a ManualClock and its scheduler polls as in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bss_contracts import topics
from bss_contracts.events.billing import InvoiceOverdue
from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.clock import ManualClock
from bss_testkit.events import eventually, publish_events
from dunning.config import Settings as DunningSettings
from dunning.entrypoints.app import create_app as create_dunning_app

from .customers_service import running
from .support import Bssctl

pytestmark = pytest.mark.timeout(240)

TENANT = "isp-trace"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning: a suspension may run at once
CUT_OFF = {
    "name": "Cut off at once",
    "trigger_after_days": 0,
    "max_retries": 0,
    "retry_interval_days": 1,
    "actions": [{"type": "suspend_service", "delay_days": 0}],
}


def _nodes(roots: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in roots:
        yield node
        yield from _nodes(node["caused"])


async def test_trace_shows_the_overdue_to_suspension_flow_of_the_real_services(
    bssctl: Bssctl, kafka_bootstrap: str, prefix: str, fresh_database: Any
):
    dunning_settings = DunningSettings(
        service_name="dunning",
        database_url=await fresh_database("dunning"),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=prefix,
        worker_enabled=True,
        worker_poll_seconds=0.05,
        outbox_poll_seconds=0.02,
    )
    dunning_app = create_dunning_app(dunning_settings, clock=ManualClock(START))
    jwt = JwtConfig(dunning_settings.jwt_secret, dunning_settings.jwt_issuer, dunning_settings.jwt_audience)
    collections = {"Authorization": f"Bearer {issue_token(jwt, subject='ops', tenant_id=TENANT, roles=('admin',))}"}

    async with (
        running(await fresh_database("customers"), kafka_bootstrap, prefix) as customers,
        dunning_app.router.lifespan_context(dunning_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=dunning_app), base_url="http://dunning") as dunning,
    ):
        created = await dunning.post("/dunning/campaigns", json=CUT_OFF, headers=collections)
        assert created.status_code == 201, created.text
        customer, subscriber = await customers.active_subscriber(TENANT)

        # Dunning has read the customer and the subscriber once its group is at the end of the customers topics.
        async def activated_then_read() -> bool:
            tail = await bssctl("tail", topics.SUBSCRIBERS.name, "--from-beginning", "--key", subscriber)
            return (
                "subscriber.activated" in tail.out
                and (await bssctl("lag", "--service", "dunning", "--max-lag", "0")).code == 0
            )

        await eventually(activated_then_read, timeout=60, interval=0.5)

        invoice = f"inv-{subscriber[:8]}"
        [overdue] = await publish_events(
            kafka_bootstrap,
            prefix,
            (
                InvoiceOverdue(
                    invoice_id=invoice,
                    invoice_number="INV-TRACE-1",
                    customer_id=customer,
                    subscriber_id=subscriber,
                    currency="EUR",
                    due_date=(START - timedelta(days=5)).date(),
                    total_minor=3990,
                    balance_minor=3990,
                    days_past_due=5,
                    detected_at=START,
                ),
                TENANT,
            ),
            source="/services/billing",
        )

        async def suspended() -> bool:
            return await customers.status(TENANT, subscriber) == "suspended"

        await eventually(suspended, timeout=60, interval=0.5)

        async def traced() -> list[dict[str, Any]] | None:
            ran = await bssctl("trace", invoice, "--since", "10m", "--json")
            assert ran.code == 0, ran
            roots: list[dict[str, Any]] = ran.json()
            types = {n["type"] for n in _nodes(roots)}
            return roots if "bss.customers.subscriber.suspended" in types else None

        roots = await eventually(traced, timeout=30, interval=1)

    nodes = list(_nodes(roots))
    assert {n["correlation_id"] for n in nodes} == {str(overdue.correlation_id)}  # one business flow
    by_type = {n["type"]: n for n in nodes}
    assert set(by_type) >= {
        InvoiceOverdue.event_type,
        "bss.dunning.execution.started",
        "bss.customers.subscriber.suspension-requested",
        "bss.customers.subscriber.suspended",
    }
    # Cause above effect: the overdue event started the execution (in dunning's consumer); the suspension request
    # caused the suspension (in customers' consumer). The request itself was made by dunning's scheduler, which
    # keeps the flow's correlation but names no causing event: it is a second root of the same flow.
    [root] = [r for r in roots if r["type"] == InvoiceOverdue.event_type]
    assert root["id"] == str(overdue.id) and root["topic"] == topics.INVOICES.name
    assert "bss.dunning.execution.started" in [c["type"] for c in root["caused"]]
    request = by_type["bss.customers.subscriber.suspension-requested"]
    assert [c["type"] for c in request["caused"]] == ["bss.customers.subscriber.suspended"]
    assert request["caused"][0]["subject"] == subscriber and request["topic"] == topics.SUBSCRIBER_COMMANDS.name
    print("\n" + json.dumps([n["type"] for n in nodes]))
    tree = (await bssctl("trace", invoice, "--since", "10m")).out
    print(tree)
    assert tree.startswith(InvoiceOverdue.event_type) or f"\n{InvoiceOverdue.event_type}" in tree
    assert "└─ bss.customers.subscriber.suspended" in tree
    assert "bss.customers.subscriber.suspension-requested" in tree and "(same flow, no causing event" in tree
