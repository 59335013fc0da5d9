"""GET /analytics/network/concurrency and /online through the real reporting service: session events through Kafka,
exact peaks worked out by hand, a NAS reset moving them, online now counted, bad input named; and the migration's
fill from existing sessions equal to what the consumer kept."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .reporting_support import Harness, at, nas_reset, new_tenant, session_event

MIGRATION = Path(__file__).resolve().parents[1] / "migrations/versions/0005_network_usage.py"
H = (datetime.now(UTC) - timedelta(hours=48)).replace(minute=0, second=0, microsecond=0)


def m(minutes: float) -> datetime:
    return H + timedelta(minutes=minutes)


async def network(reporting: Harness, path: str, tenant: str, role: str = "ops", **params: Any) -> Any:
    query = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
    return await reporting.client.get(
        f"/analytics/network/{path}", params=query, headers=reporting.headers(tenant, role)
    )


def peaks(body: dict[str, Any]) -> list[tuple[datetime, int, datetime]]:
    return [
        (datetime.fromisoformat(p["period_start"]), p["peak_sessions"], datetime.fromisoformat(p["peak_at"]))
        for p in body["peaks"]
    ]


def session(kind: str, key: str, start: float, when: float, nas: str = "nas-1") -> tuple[Any, ...]:
    return (session_event(kind, key, f"user-{key}", start=m(start), when=m(when), nas_id=nas),)


async def test_exact_peaks_per_hour_and_nas_moved_by_a_reset_and_online_now(reporting: Harness) -> None:
    tenant = new_tenant()
    events = [
        *session("start", "A", 10, 10), *session("stop", "A", 10, 40),
        *session("start", "B", 20, 20), *session("stop", "B", 20, 30),
        *session("start", "C", 40, 40), *session("stop", "C", 40, 70),  # starts as A stops: no overlap
        *session("start", "D", 25, 25, "nas-2"), *session("update", "D", 25, 30, "nas-2"),  # no Stop: until 90
    ]  # fmt: skip
    await reporting.publish(*[(e, tenant) for e in events])

    body = (await network(reporting, "concurrency", tenant, **{"from": H, "to": m(180)})).json()
    assert peaks(body) == [(H, 3, m(25)), (m(60), 2, m(60)), (m(120), 0, m(120))]
    assert body["highest"]["peak_sessions"] == 3 and body["stale_after_seconds"] == 3600
    nas1 = (await network(reporting, "concurrency", tenant, **{"from": H, "to": m(180), "nas_id": "nas-1"})).json()
    assert peaks(nas1) == [(H, 2, m(20)), (m(60), 1, m(60)), (m(120), 0, m(120))]

    # nas-2 reboots at :50: D ends there, not an hour after its last record
    await reporting.publish((nas_reset("nas-2", m(50)), tenant))
    body = (await network(reporting, "concurrency", tenant, **{"from": H, "to": m(180)})).json()
    assert peaks(body) == [(H, 3, m(25)), (m(60), 1, m(60)), (m(120), 0, m(120))]
    days = (await network(reporting, "concurrency", tenant, interval="day", tz="Asia/Tokyo",
                          **{"from": H - timedelta(days=1), "to": m(180)})).json()  # fmt: skip
    assert max(p["peak_sessions"] for p in days["peaks"]) == 3 and days["time_zone"] == "Asia/Tokyo"

    # online now: E open and recent, F open but silent for three hours (stale), G stopped
    await reporting.publish(
        (session_event("start", "E", "user-E", start=at(minutes=-10), when=at(minutes=-5), nas_id="nas-2"), tenant),
        (session_event("update", "F", "user-F", start=at(hours=-4), when=at(hours=-3), nas_id="nas-1"), tenant),
        (session_event("stop", "G", "user-G", start=at(minutes=-20), when=at(minutes=-1), nas_id="nas-1"), tenant),
    )
    online = (await network(reporting, "online", tenant, role="support")).json()
    assert (online["online"], online["by_nas"]) == (1, [{"nas_id": "nas-2", "online": 1}])

    other = (await network(reporting, "online", new_tenant())).json()
    assert (other["online"], other["by_nas"]) == (0, [])  # another tenant sees none of it


async def test_bad_input_names_the_field(reporting: Harness) -> None:
    tenant = new_tenant()
    await reporting.publish((session_event("start", "X", "x", start=m(5), when=m(5), nas_id="nas-9"), tenant))
    cases = [
        ({"from": m(60), "to": m(0)}, "from"),
        ({"nas_id": "no-such-nas"}, "nas_id"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"interval": "minute"}, "interval"),
        ({"from": H - timedelta(days=200), "to": H}, "from"),
    ]
    for params, field in cases:
        answer = await network(reporting, "concurrency", tenant, **params)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == field, (params, answer.text)
    assert (await network(reporting, "concurrency", tenant, role="finance")).status_code == 403


async def test_the_migration_fills_what_the_consumer_keeps(reporting: Harness) -> None:
    tenant = new_tenant()
    events = [
        *session("start", "P", 0, 0), *session("update", "P", 0, 30), *session("stop", "P", 0, 95),
        *session("start", "Q", 60, 60), *session("stop", "S", 59, 61),
        *session("start", "R", 60, 60, "nas-2"), *session("update", "R", 60, 65, "nas-2"),
    ]  # fmt: skip
    await reporting.publish(*[(e, tenant) for e in events], (nas_reset("nas-2", m(100)), tenant))
    query = "SELECT * FROM readmodel.{} ORDER BY 1, 2, 3, 4"
    kept = {
        t: await reporting.rows(query.format(t)) for t in ("concurrency_changes", "concurrency_buckets", "usage_days")
    }
    assert any(row[0] == tenant for row in kept["concurrency_buckets"])

    spec = importlib.util.spec_from_file_location("concurrency_migration", MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    statements: list[str] = []
    migration.fill(statements.append)
    for table in kept:
        await reporting.execute(f"DELETE FROM readmodel.{table}")
    for statement in statements:
        await reporting.execute(statement)
    assert {t: await reporting.rows(query.format(t)) for t in kept} == kept
