"""`bssctl lag` before and after the real customers consumer catches up, and `bssctl replay` refused while
the service runs, applied once it is stopped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bss_contracts.events.customers import SubscriberTerminationRequested
from bss_testkit.events import eventually, publish_events

from .customers_service import running
from .support import Bssctl, assert_one_line_error

pytestmark = pytest.mark.timeout(240)

REQUESTS = "bss.customers.subscriber-requests"


def _termination(subscriber: str) -> SubscriberTerminationRequested:
    return SubscriberTerminationRequested(
        request_id=str(uuid.uuid4()),
        subscriber_id=subscriber,
        customer_id="nobody",
        reason="90 days overdue",
        requested_by="dunning",
        requested_at=datetime.now(UTC),
    )


def _requests_partitions(lag_json: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [group] = [g for g in lag_json if g["group"] == "customers"]
    return [p for p in group["partitions"] if p["topic"] == REQUESTS]


async def test_lag_shows_the_backlog_until_the_consumer_catches_up_and_replay_waits_for_it_to_stop(
    bssctl: Bssctl, kafka_bootstrap: str, prefix: str, fresh_database: Any
):
    # Requests for subscribers the service does not know: each is consumed and answered (rejected), no effect.
    await publish_events(kafka_bootstrap, prefix, *[(_termination(f"ghost-{i}"), "isp-lag") for i in range(7)])

    before = await bssctl("lag", "--service", "customers", "--max-lag", "0", "--json")
    assert before.code == 1, before
    assert "exceeds --max-lag 0" in before.err
    partitions = _requests_partitions(before.json())
    assert len(partitions) == 6
    assert sum(p["lag"] for p in partitions) == 7 == sum(p["end"] for p in partitions)
    assert all(p["committed"] is None for p in partitions)  # the group never read these topics
    lagging = [p for p in partitions if p["lag"]]
    assert all(p["oldest_age_s"] is not None and 0 <= p["oldest_age_s"] < 120 for p in lagging)
    assert all(p["oldest_age_s"] is None for p in partitions if not p["lag"])
    assert (await bssctl("lag", "--service", "customers", "--max-lag", "7")).code == 0

    database = await fresh_database("customers")
    async with running(database, kafka_bootstrap, prefix):

        async def caught_up() -> list[dict[str, Any]] | None:
            ran = await bssctl("lag", "--service", "customers", "--max-lag", "0", "--json")
            return ran.json() if ran.code == 0 else None

        after = _requests_partitions(await eventually(caught_up, timeout=60, interval=1))
        assert all(p["committed"] == p["end"] and p["lag"] == 0 and p["oldest_age_s"] is None for p in after)
        table = await bssctl("lag", "--service", "customers")
        assert table.code == 0 and "member(s), lag 0" in table.out

        refused = await bssctl("replay", "--service", "customers", "--since", "1h")
        assert_one_line_error(
            refused, 2, f"refused: group '{prefix}customers' has 1 active member", "stop the customers"
        )

    planned = await bssctl("replay", "--service", "customers", "--since", "1h", "--dry-run", "--json")
    assert planned.code == 0, planned
    assert {(p["topic"], p["new"]) for p in planned.json() if p["topic"] == REQUESTS} == {(REQUESTS, 0)}
    unchanged = _requests_partitions((await bssctl("lag", "--service", "customers", "--json")).json())
    assert sum(p["lag"] for p in unchanged) == 0

    replayed = await bssctl("replay", "--service", "customers", "--since", "1h")
    assert replayed.code == 0, replayed
    assert "reset customers to" in replayed.out
    again = _requests_partitions((await bssctl("lag", "--service", "customers", "--json")).json())
    assert all(p["committed"] == 0 for p in again)
    assert sum(p["lag"] for p in again) == 7  # the service will read the hour again when it starts

    # A time after the last record: every partition goes to its end (skip what is there).
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await bssctl("replay", "--service", "customers", "--since", later)).code == 0
    end = _requests_partitions((await bssctl("lag", "--service", "customers", "--json")).json())
    assert all(p["committed"] == p["end"] and p["lag"] == 0 for p in end)
