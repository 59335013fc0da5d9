"""`bssctl metrics`: lag, oldest-record age, group members, DLQ depth and outbox health in the Prometheus text
format, printed and served."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from bss_contracts import topics
from bss_contracts.events.customers import SubscriberTerminationRequested
from bss_testkit.events import publish_events

from .support import Bssctl, send

pytestmark = pytest.mark.timeout(120)

UNREACHABLE = "postgresql+asyncpg://x:y@127.0.0.1:9/z"


def _values(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] != "#"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_metrics_export_lag_age_members_dlq_depth_and_outbox_health(
    bssctl: Bssctl, kafka_bootstrap: str, prefix: str
):
    requests = [
        SubscriberTerminationRequested(
            request_id=str(uuid.uuid4()),
            subscriber_id="s-1",
            customer_id="c-1",
            reason="overdue",
            requested_by="dunning",
            requested_at=datetime.now(UTC),
        )
        for _ in range(3)
    ]
    await publish_events(kafka_bootstrap, prefix, *[(r, "isp-m") for r in requests])
    await send(kafka_bootstrap, prefix + topics.INVOICES.dead_letter, [b"{}", b"{}"])
    await asyncio.sleep(1.0)  # the records' age is at least a second

    ran = await bssctl("metrics", DUNNING_DATABASE_URL=UNREACHABLE)
    assert ran.code == 0, ran
    assert "# TYPE bss_consumer_lag gauge" in ran.out
    values = _values(ran.out)
    customers_lag = {k: v for k, v in values.items() if k.startswith('bss_consumer_lag{group="customers"')}
    assert len(customers_lag) == 6 and sum(customers_lag.values()) == 3
    ages = [
        v
        for k, v in values.items()
        if k.startswith('bss_consumer_oldest_unconsumed_age_seconds{group="customers"')
        and customers_lag[k.replace("bss_consumer_oldest_unconsumed_age_seconds", "bss_consumer_lag")]
    ]
    assert ages and all(1.0 <= a < 120 for a in ages)
    assert values['bss_consumer_group_members{group="customers"}'] == 0
    assert values['bss_dlq_depth{topic="bss.billing.invoice"}'] == 2
    assert values['bss_dlq_depth{topic="bss.radius.session"}'] == 0
    assert values['bss_outbox_up{service="dunning"}'] == 0
    assert not any(k.startswith("bss_outbox_backlog") for k in values)

    port = _free_port()
    process = await bssctl.start("metrics", "--serve", str(port))
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(50):
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.2)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
            served = _values(response.text)
            assert served['bss_dlq_depth{topic="bss.billing.invoice"}'] == 2
            await send(kafka_bootstrap, prefix + topics.INVOICES.dead_letter, [b"{}"])
            again = _values((await client.get(f"http://127.0.0.1:{port}/", timeout=30)).text)
            assert again['bss_dlq_depth{topic="bss.billing.invoice"}'] == 3  # computed afresh for each scrape
    finally:
        process.terminate()
        await process.wait()
