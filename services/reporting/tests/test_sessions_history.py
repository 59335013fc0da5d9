"""GET /billing/reports/sessions/history: sessions by their latest accounting record, newest first, with a
summary over the whole filtered period (exact bytes and seconds, GB and hours as in the seed)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from .reporting_support import Harness, at, nas_reset, new_tenant, session_event, status, subscriber

GIB = 1 << 30


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def seed_sessions(reporting: Harness, tenant: str) -> dict[str, datetime]:
    k1 = at(days=-2)
    await reporting.publish(
        (subscriber("s-u1", "c1", "u1"), tenant),
        (status("activate", "s-u1", "c1", "u1", at(days=-100)), tenant),
        (subscriber("s-u2", "c2", "u2"), tenant),
        # K1: counters only move forward (the older update is ignored); the Stop is final.
        (session_event("start", "K1", "u1", start=k1, when=k1), tenant),
        (session_event("update", "K1", "u1", start=k1, when=k1 + timedelta(hours=2), seconds=7200,
                       octets_in=500_000_000, octets_out=2 * GIB), tenant),
        (session_event("update", "K1", "u1", start=k1, when=k1 + timedelta(hours=1), seconds=3600,
                       octets_in=100, octets_out=100), tenant),
        (session_event("stop", "K1", "u1", start=k1, when=k1 + timedelta(hours=4.5), seconds=16200,
                       octets_in=GIB, octets_out=4 * GIB, cause="User-Request"), tenant),
        (session_event("update", "K1", "u1", start=k1, when=k1 + timedelta(hours=5), seconds=99_999,
                       octets_in=9 * GIB, octets_out=9 * GIB), tenant),
        # K2: open on nas-1 when nas-1 reboots (below).
        (session_event("start", "K2", "u1", start=at(hours=-30), when=at(hours=-30)), tenant),
        (session_event("update", "K2", "u1", start=at(hours=-30), when=at(hours=-29), seconds=3600,
                       octets_in=100, octets_out=200), tenant),
        # K3: open, on another NAS.
        (session_event("start", "K3", "u2", start=at(hours=-3), when=at(hours=-3), nas_id="nas-2"), tenant),
        (session_event("update", "K3", "u2", start=at(hours=-3), when=at(hours=-1), seconds=7200,
                       octets_in=5, octets_out=7, nas_id="nas-2"), tenant),
        # K6: long ago, outside the default window.
        (session_event("stop", "K6", "u1", start=at(days=-40), when=at(days=-40, hours=1), seconds=3600,
                       octets_in=1000, octets_out=2000, nas_id="nas-2"), tenant),
        # K7: started 35 days ago, still open and updated 2 days ago: inside the default window.
        (session_event("start", "K7", "u1", start=at(days=-35), when=at(days=-35), nas_id="nas-2"), tenant),
        (session_event("update", "K7", "u1", start=at(days=-35), when=at(days=-2), seconds=33 * 86400,
                       octets_in=7, octets_out=8, nas_id="nas-2"), tenant),
    )  # fmt: skip
    await reporting.publish((nas_reset("nas-1", at(hours=-12)), tenant))
    await reporting.publish(
        # K4: started after the reboot, so still open.
        (session_event("start", "K4", "u1", start=at(hours=-11), when=at(hours=-11)), tenant),
        (session_event("update", "K4", "u1", start=at(hours=-11), when=at(hours=-10), seconds=3600,
                       octets_in=1, octets_out=2), tenant),
        # K5: its events arrive after the reboot's; it started before it, so the reboot closes it too...
        (session_event("start", "K5", "u2", start=at(hours=-13), when=at(hours=-13)), tenant),
        (session_event("update", "K5", "u2", start=at(hours=-13), when=at(hours=-12.5), seconds=1800,
                       octets_in=10, octets_out=20), tenant),
    )  # fmt: skip
    k5 = await reporting.ok("sessions/history", tenant, "ops", username="u2")
    assert [(s["session_key"], s["stopped_by"], s["terminate_cause"]) for s in k5["sessions"]][1] == (
        "K5",
        "nas",
        "NAS-Reboot",
    )
    # ...until its real Stop arrives, which replaces the NAS's guess.
    await reporting.publish(
        (session_event("stop", "K5", "u2", start=at(hours=-13), when=at(hours=-12.25), seconds=2700,
                       octets_in=15, octets_out=25, cause="Lost-Carrier"), tenant),
    )  # fmt: skip
    return {"k1": k1}


def totals(report: dict) -> dict:  # type: ignore[type-arg]
    return {k: v for k, v in report["summary"].items() if not k.startswith("period")}


def keys(report: dict) -> list[str]:  # type: ignore[type-arg]
    return [s["session_key"] for s in report["sessions"]]


async def test_default_window_summary_page_and_records(reporting: Harness) -> None:
    tenant = new_tenant()
    times = await seed_sessions(reporting, tenant)

    report = await reporting.ok("sessions/history", tenant, "support")

    summary = report["summary"]
    assert when(summary["period_end"]) - when(summary["period_start"]) == timedelta(days=30)
    assert abs(when(summary["period_end"]) - datetime.now(UTC)) < timedelta(minutes=1)
    seconds = 16200 + 3600 + 7200 + 3600 + 2700 + 33 * 86400
    octets_in = GIB + 100 + 5 + 1 + 15 + 7
    octets_out = 4 * GIB + 200 + 7 + 2 + 25 + 8
    assert totals(report) == {
        "total_sessions": 6,
        "returned_sessions": 6,
        "total_data_usage_gb": 5.0,
        "total_bytes": octets_in + octets_out,
        "total_input_octets": octets_in,
        "total_output_octets": octets_out,
        "total_duration_hours": 801.25,
        "total_duration_seconds": seconds,
    }
    assert keys(report) == ["K3", "K4", "K2", "K5", "K1", "K7"]
    assert report["pagination"] == {"limit": 100, "offset": 0, "has_more": False}

    k1 = report["sessions"][4]
    assert k1 == {
        "time": k1["time"],
        "subscriber_id": "s-u1",
        "username": "u1",
        "session_id": "acct-K1",
        "session_key": "K1",
        "nas_id": "nas-1",
        "nas_ip_address": "10.0.1.1",
        "framed_ip_address": "100.64.1.123",
        "framed_ipv6_address": "2001:db8::1/128",
        "delegated_ipv6_prefix": None,
        "calling_station_id": None,
        "session_start_time": k1["session_start_time"],
        "session_stop_time": k1["session_stop_time"],
        "stopped_by": "stop",
        "session_duration_seconds": 16200,
        "session_duration_hours": 4.5,
        "total_bytes": 5_368_709_120,
        "total_gb": 5.0,
        "input_octets": 1_073_741_824,
        "output_octets": 4_294_967_296,
        "upload_gb": 1.0,
        "download_gb": 4.0,
        "terminate_cause": "User-Request",
    }
    assert when(k1["session_start_time"]) == times["k1"]
    assert when(k1["session_stop_time"]) == when(k1["time"]) == times["k1"] + timedelta(hours=4.5)

    k2, k5, k3 = report["sessions"][2], report["sessions"][3], report["sessions"][0]
    assert (k2["stopped_by"], k2["terminate_cause"], k2["session_duration_seconds"]) == ("nas", "NAS-Reboot", 3600)
    assert when(k2["session_stop_time"]) == at(hours=-12)
    assert (k5["stopped_by"], k5["terminate_cause"], k5["total_bytes"]) == ("stop", "Lost-Carrier", 40)
    assert (k3["stopped_by"], k3["session_stop_time"], k3["subscriber_id"]) == (None, None, "s-u2")
    assert when(k3["time"]) == at(hours=-1)


async def test_filters_by_subscriber_or_username_and_pagination(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_sessions(reporting, tenant)

    u1 = await reporting.ok("sessions/history", tenant, "ops", username="u1")
    assert keys(u1) == ["K4", "K2", "K1", "K7"]
    assert (u1["summary"]["total_sessions"], u1["summary"]["total_duration_seconds"]) == (
        4,
        16200 + 3600 + 3600 + 2851200,
    )
    assert u1["summary"]["total_duration_hours"] == 798.5
    assert u1["summary"]["total_bytes"] == GIB + 100 + 1 + 7 + 4 * GIB + 200 + 2 + 8
    by_subscriber = await reporting.ok("sessions/history", tenant, "ops", subscriber_id="s-u1")
    assert totals(by_subscriber) == totals(u1)
    assert keys(by_subscriber) == keys(u1)

    u2 = await reporting.ok("sessions/history", tenant, "ops", subscriber_id="s-u2", username="u2")
    assert keys(u2) == ["K3", "K5"]
    assert (u2["summary"]["total_bytes"], u2["summary"]["total_duration_hours"]) == (52, 2.75)
    assert keys(await reporting.ok("sessions/history", tenant, "ops", subscriber_id="s-u1", username="u2")) == []
    nobody = await reporting.ok("sessions/history", tenant, "ops", subscriber_id="no-such")
    assert (nobody["summary"]["total_sessions"], nobody["sessions"]) == (0, [])

    page = await reporting.ok("sessions/history", tenant, "ops", limit=2)
    assert keys(page) == ["K3", "K4"]
    assert page["pagination"] == {"limit": 2, "offset": 0, "has_more": True}
    assert (page["summary"]["total_sessions"], page["summary"]["returned_sessions"]) == (6, 2)
    last = await reporting.ok("sessions/history", tenant, "ops", limit=2, offset=4)
    assert keys(last) == ["K1", "K7"]
    assert last["pagination"]["has_more"] is False

    old = await reporting.ok(
        "sessions/history", tenant, "ops", start_date=at(days=-41).isoformat(), end_date=at(days=-39).isoformat()
    )
    assert keys(old) == ["K6"]
    assert (old["summary"]["total_bytes"], old["summary"]["total_duration_hours"]) == (3000, 1.0)


async def test_partial_hours_at_both_ends_of_a_tenant_wide_window(reporting: Harness) -> None:
    """Tenant-wide totals read whole hours from the rollup and the partial hours from the sessions: the
    result must equal the plain sum over the sessions."""
    tenant = new_tenant()
    day = at(days=-5).replace(hour=0, minute=0, second=0, microsecond=0)
    stops = [(10, 15), (10, 45), (11, 30), (12, 0), (13, 5), (13, 59)]
    events = []
    for n, (h, m) in enumerate(stops, start=1):
        stop = day + timedelta(hours=h, minutes=m)
        events.append(
            (session_event("stop", f"E{n}", "u3", start=stop - timedelta(minutes=20), when=stop, seconds=1200,
                           octets_in=n, octets_out=10 * n), tenant)
        )  # fmt: skip
    await reporting.publish(*events)

    async def window(start: datetime, end: datetime, **filters: str) -> dict:  # type: ignore[type-arg]
        report = await reporting.ok(
            "sessions/history", tenant, "ops", start_date=start.isoformat(), end_date=end.isoformat(), **filters
        )
        return report  # type: ignore[no-any-return]

    wide = await window(day + timedelta(hours=10, minutes=30), day + timedelta(hours=13, minutes=10))
    assert keys(wide) == ["E5", "E4", "E3", "E2"]
    assert (wide["summary"]["total_input_octets"], wide["summary"]["total_output_octets"]) == (14, 140)
    assert wide["summary"]["total_duration_seconds"] == 4 * 1200
    same_by_user = await window(
        day + timedelta(hours=10, minutes=30), day + timedelta(hours=13, minutes=10), username="u3"
    )
    assert totals(same_by_user) == totals(wide)
    # Bounds are inclusive: a record at exactly the end counts.
    assert keys(await window(day + timedelta(hours=11), day + timedelta(hours=12))) == ["E4", "E3"]
    inside_one_hour = await window(day + timedelta(hours=10, minutes=40), day + timedelta(hours=10, minutes=50))
    assert (keys(inside_one_hour), inside_one_hour["summary"]["total_sessions"]) == (["E2"], 1)


async def test_the_hourly_and_daily_rollups_equal_the_sum_over_sessions(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_sessions(reporting, tenant)
    from_rollup = await reporting.rows(
        "SELECT hour, sessions, input_octets, output_octets, session_time_seconds FROM readmodel.session_hours "
        "WHERE tenant_id = :t ORDER BY hour",
        t=tenant,
    )
    from_sessions = await reporting.rows(
        "SELECT date_trunc('hour', time, 'UTC'), count(*), sum(input_octets), sum(output_octets), "
        "sum(session_time_seconds) FROM readmodel.sessions WHERE tenant_id = :t GROUP BY 1 ORDER BY 1",
        t=tenant,
    )
    assert [tuple(r) for r in from_rollup] == [tuple(r) for r in from_sessions]
    assert sum(r.sessions for r in from_rollup) == 7
    by_day = await reporting.rows(
        "SELECT day, sessions, input_octets, output_octets, session_time_seconds FROM readmodel.session_days "
        "WHERE tenant_id = :t ORDER BY day",
        t=tenant,
    )
    from_sessions = await reporting.rows(
        "SELECT (time AT TIME ZONE 'UTC')::date, count(*), sum(input_octets), sum(output_octets), "
        "sum(session_time_seconds) FROM readmodel.sessions WHERE tenant_id = :t GROUP BY 1 ORDER BY 1",
        t=tenant,
    )
    assert [tuple(r) for r in by_day] == [tuple(r) for r in from_sessions]


async def test_bad_parameters_are_422_with_the_field(reporting: Harness) -> None:
    tenant = new_tenant()
    for params, field in [
        ({"limit": "1001"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2025-02-01T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"}, "end_date"),
    ]:
        response = await reporting.get("sessions/history", tenant, "ops", **params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_sessions_sharing_a_time_page_by_key_and_a_page_past_the_end_keeps_the_summary(
    reporting: Harness,
) -> None:
    """Pages follow (time, session_key) newest first, so that sessions with the same latest record are neither
    repeated nor skipped across pages; a page past the end is empty but its summary still counts everything.
    A reused username shows its latest subscriber, whichever of the two is asked for."""
    tenant = new_tenant()
    moment = at(hours=-3).replace(microsecond=0)
    await reporting.publish(
        (subscriber("s-old", "c1", "shared", created_at=datetime(2025, 1, 2, tzinfo=UTC)), tenant),
        (subscriber("s-new", "c2", "shared", created_at=datetime(2025, 6, 1, tzinfo=UTC)), tenant),
        *[
            (session_event("stop", f"T{n}", "shared", start=moment - timedelta(minutes=10), when=moment, seconds=600,
                           octets_in=n, octets_out=2 * n), tenant)
            for n in range(1, 6)
        ],
    )  # fmt: skip
    for filters in ({}, {"username": "shared"}, {"subscriber_id": "s-old"}, {"subscriber_id": "s-new"}):
        pages = [
            await reporting.ok("sessions/history", tenant, "ops", limit=2, offset=offset, **filters)
            for offset in (0, 2, 4, 6)
        ]
        assert [keys(p) for p in pages] == [["T5", "T4"], ["T3", "T2"], ["T1"], []], filters
        assert [p["pagination"]["has_more"] for p in pages] == [True, True, False, False]
        for page in pages:
            assert (page["summary"]["total_sessions"], page["summary"]["total_input_octets"]) == (5, 15)
            assert (page["summary"]["total_output_octets"], page["summary"]["total_duration_seconds"]) == (30, 3000)
        assert {s["subscriber_id"] for p in pages for s in p["sessions"]} == {"s-new"}


async def test_a_session_closed_by_a_nas_reset_reads_the_same_whichever_topic_comes_first(reporting: Harness) -> None:
    """radius-ingest's synthesised Stop and the NAS's Accounting-Off are one fact: `stopped_by` is `nas` and the
    cause is the contracts' cause for that reset, before and after the other one arrives (it never flips)."""
    tenant = new_tenant()
    off = at(hours=-5)
    nas_first, stop_first, unknown_to_ingest = "nas-7", "nas-8", "nas-8"
    await reporting.publish(
        (session_event("start", "A", "u1", start=at(hours=-8), when=at(hours=-8), nas_id=nas_first), tenant),
        (session_event("start", "B", "u1", start=at(hours=-8), when=at(hours=-8), nas_id=stop_first), tenant),
        (session_event("start", "C", "u2", start=at(hours=-7), when=at(hours=-7), nas_id=unknown_to_ingest), tenant),
        (nas_reset(nas_first, off, reason="accounting-off"), tenant),
        (session_event("stop", "B", "u1", start=at(hours=-8), when=off, seconds=60, octets_in=6, nas_id=stop_first,
                       closed_by_nas_reset="accounting-off"), tenant),
    )  # fmt: skip

    async def closes() -> dict[str, tuple[object, ...]]:
        report = await reporting.ok("sessions/history", tenant, "ops")
        return {
            s["session_key"]: (s["stopped_by"], s["terminate_cause"], when(s["session_stop_time"]), s["input_octets"])
            for s in report["sessions"]
        }

    expected = {
        "A": ("nas", "NAS-Request", off, 0),
        "B": ("nas", "NAS-Request", off, 6),
        "C": ("nas", "NAS-Request", off, 0),  # the reset the Stop speaks of closes the NAS's other sessions too
    }
    assert await closes() == expected
    await reporting.publish(
        (session_event("stop", "A", "u1", start=at(hours=-8), when=off, seconds=60, nas_id=nas_first,
                       closed_by_nas_reset="accounting-off"), tenant),
        (nas_reset(stop_first, off, reason="accounting-off"), tenant),
    )  # fmt: skip
    expected["A"] = ("nas", "NAS-Request", off, 0)
    assert await closes() == expected


async def test_a_pooled_connection_the_server_dropped_is_replaced_without_failing_the_report(
    reporting: Harness,
) -> None:
    """One-statement reports take connections without pre-ping: when PostgreSQL has closed the pooled ones (a
    restart, an admin's pg_terminate_backend), the statement fails on the dead connection and runs once more on
    a new one: the caller sees the answer, not an error."""
    tenant = new_tenant()
    await seed_sessions(reporting, tenant)
    before = await reporting.ok("sessions/history", tenant, "ops")
    reads = reporting.app.state.reports.reads
    idle = reads.pool.checkedin()
    assert idle >= 1
    async with AsyncExitStack() as stack:  # every idle connection of the reads pool, to know their backends
        conns = [await stack.enter_async_context(reads.connect()) for _ in range(idle)]
        pids = [await c.scalar(text("SELECT pg_backend_pid()")) for c in conns]
    killed = await reporting.rows("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:p AS int[])) pid", p=pids)
    assert [k[0] for k in killed] == [True] * idle

    for path in ("sessions/history", "blocked-customers"):
        response = await reporting.get(path, tenant, "admin")
        assert response.status_code == 200, response.text
    after = await reporting.ok("sessions/history", tenant, "ops")
    assert after["sessions"] == before["sessions"] and after["sessions"]
    assert after["summary"]["total_bytes"] == before["summary"]["total_bytes"]
    alive = await reporting.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:p)", p=pids)
    assert alive == 0
