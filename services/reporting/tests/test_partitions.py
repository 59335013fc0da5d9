"""Session storage: monthly partitions created ahead and on demand, dropped after the retention period
(taking their sessions out of the hourly rollup), and sessions past retention ignored when they arrive."""

from __future__ import annotations

from datetime import timedelta

from bss_testkit.events import eventually
from reporting.adapters.partitions import add_months, month_of, month_start
from reporting.entrypoints.workers import PartitionMaintenance

from .reporting_support import Harness, at, new_tenant, session_event


async def months(reporting: Harness) -> list:  # type: ignore[type-arg]
    async with reporting.service.runtime.database.engine.connect() as conn:
        return await reporting.service.partitions.existing(conn)


async def test_partitions_cover_the_retention_period_and_months_ahead(reporting: Harness) -> None:
    this_month = month_of(at())
    retention = reporting.settings.session_retention_months
    expected = [add_months(this_month, n) for n in range(-retention, reporting.settings.session_partitions_ahead + 1)]

    async def created() -> bool:
        return set(expected) <= set(await months(reporting))

    await eventually(created)  # the maintenance worker runs at start-up


async def test_old_partitions_are_dropped_with_their_rollup_and_late_old_sessions_ignored(reporting: Harness) -> None:
    tenant = new_tenant()
    this_month = month_of(at())
    old_start = month_start(add_months(this_month, -12)) + timedelta(days=3, hours=5)
    future_start = month_start(add_months(this_month, 7)) + timedelta(days=1)
    too_old = month_start(add_months(this_month, -15))
    await reporting.publish(
        (session_event("stop", "OLD", "u1", start=old_start, when=old_start + timedelta(minutes=30), seconds=1800,
                       octets_in=10, octets_out=20), tenant),
        (session_event("stop", "FUTURE", "u1", start=future_start, when=future_start + timedelta(minutes=1),
                       seconds=60, octets_in=1, octets_out=1), tenant),
        (session_event("stop", "TOO-OLD", "u1", start=too_old, when=too_old + timedelta(minutes=1), seconds=60),
         tenant),
    )  # fmt: skip

    stored = await reporting.rows(
        "SELECT session_key FROM readmodel.sessions WHERE tenant_id = :t ORDER BY 1", t=tenant
    )
    assert [r.session_key for r in stored] == ["FUTURE", "OLD"]  # TOO-OLD was past retention on arrival
    assert add_months(this_month, 7) in await months(reporting)  # created on demand
    hours = "SELECT count(*) FROM readmodel.session_hours WHERE tenant_id = :t"
    assert await reporting.scalar(hours, t=tenant) == 2

    # Two months later, the month of OLD is past retention.
    later = at(days=62)
    await PartitionMaintenance(
        reporting.service.runtime.database, reporting.service.partitions, interval_seconds=1, clock=lambda: later
    ).run_once()

    kept = await months(reporting)
    assert kept[0] == add_months(month_of(later), -reporting.settings.session_retention_months)
    assert add_months(this_month, -12) not in kept
    stored = await reporting.rows("SELECT session_key FROM readmodel.sessions WHERE tenant_id = :t", t=tenant)
    assert [r.session_key for r in stored] == ["FUTURE"]
    assert await reporting.scalar(hours, t=tenant) == 1
    remaining = await reporting.rows(
        "SELECT sessions, input_octets, output_octets FROM readmodel.session_hours WHERE tenant_id = :t", t=tenant
    )
    assert [tuple(r) for r in remaining] == [(1, 1, 1)]
