"""GET /analytics/usage/*: one subscriber's or customer's usage in its customer's time zone, and top users,
equal to sums over the raw session events sent (exact bytes, 64-bit counters), through the real service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .reporting_support import Harness, customer, new_tenant, session_event, subscriber

TOKYO = ZoneInfo("Asia/Tokyo")
D = (datetime.now(TOKYO) - timedelta(days=10)).date()
BIG = 5 * 2**32 + 7  # past 32 bits: Acct-Input-Gigawords at work


def tokyo(day_offset: int, hour: int, minute: int) -> datetime:
    return datetime(D.year, D.month, D.day, hour, minute, tzinfo=TOKYO) + timedelta(days=day_offset)


def stop(key: str, user: str, when: datetime, octets_in: int, octets_out: int, seconds: int) -> Any:
    start = when - timedelta(seconds=seconds)
    return session_event("stop", key, user, start=start, when=when, seconds=seconds, octets_in=octets_in,
                         octets_out=octets_out)  # fmt: skip


async def usage(reporting: Harness, path: str, tenant: str, role: str = "support", **params: Any) -> Any:
    return await reporting.client.get(
        f"/analytics/usage/{path}", params=params, headers=reporting.headers(tenant, role)
    )


async def seed(reporting: Harness, tenant: str) -> None:
    await reporting.publish(
        *[
            (e, tenant)
            for e in (
                customer("c1", "Sakura Net", timezone="Asia/Tokyo"),
                customer("c2", "Plain Ltd"),
                subscriber("s1", "c1", "u1"),
                subscriber("s2", "c1", "u2"),
                subscriber("s3", "c2", "u3", plan_id="plan-900"),
                stop("K1", "u1", tokyo(0, 1, 30), BIG, 100, 600),  # D 01:30 in Tokyo is the day before in UTC
                stop("K2", "u1", tokyo(0, 23, 30), 10, 20, 60),
                session_event(
                    "update",
                    "K3",
                    "u1",
                    start=tokyo(1, 1, 0),
                    when=tokyo(1, 1, 10),
                    seconds=30,
                    octets_in=1,
                    octets_out=2,
                ),
                stop("K4", "u2", tokyo(0, 1, 45), 3, 4, 10),
                stop("K5", "u3", tokyo(0, 12, 0), 1000, 0, 5),
                stop("K6", "u1", tokyo(5, 12, 0), 99, 99, 99),  # outside the period asked for
            )
        ]
    )


async def test_a_subscriber_and_a_customer_by_day_in_the_customers_zone(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed(reporting, tenant)
    days = {"from": D.isoformat(), "to": (D + timedelta(days=1)).isoformat()}

    body = (await usage(reporting, "subscribers/s1", tenant, **days)).json()
    assert body["time_zone"] == "Asia/Tokyo" and body["usernames"] == ["u1"] and body["customer_id"] == "c1"
    assert (body["sessions"], body["input_octets"], body["output_octets"]) == (3, BIG + 10 + 1, 100 + 20 + 2)
    assert body["total_bytes"] == BIG + 133 and body["session_time_seconds"] == 690
    assert body["average_session_seconds"] == 230 and body["peak_hour"] == 1
    assert [(d["day"], d["sessions"], d["total_bytes"]) for d in body["daily"]] == [
        (D.isoformat(), 2, BIG + 130),
        ((D + timedelta(days=1)).isoformat(), 1, 3),
    ]

    whole = (await usage(reporting, "customers/c1", tenant, **days)).json()
    assert whole["usernames"] == ["u1", "u2"] and whole["sessions"] == 4 and whole["total_bytes"] == BIG + 140

    # UTC days D-1 and D hold K1..K5 (01:30 on D in Tokyo is 16:30 UTC the day before; 01:10 on D+1 is D in UTC)
    utc_day = (D - timedelta(days=1)).isoformat()
    top = (await usage(reporting, "top", tenant, role="ops", **{"from": utc_day, "to": D.isoformat()})).json()
    assert [(t["username"], t["total_bytes"]) for t in top] == [("u1", BIG + 133), ("u3", 1000), ("u2", 7)]
    assert (top[1]["subscriber_id"], top[1]["plan_id"], top[1]["customer_name"]) == ("s3", "plan-900", "Plain Ltd")
    by_sessions = (
        await usage(reporting, "top", tenant, by="sessions", **{"from": utc_day, "to": D.isoformat()})
    ).json()
    assert [t["username"] for t in by_sessions] == ["u1", "u2", "u3"]  # equal counts: by username
    one = (
        await usage(reporting, "top", tenant, by="duration", limit=1, **{"from": utc_day, "to": D.isoformat()})
    ).json()
    assert [(t["username"], t["session_time_seconds"]) for t in one] == [("u1", 690)]


async def test_bad_input_and_other_tenants(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed(reporting, tenant)
    cases = [
        ("subscribers/s1", {"from": "2026-02-02", "to": "2026-02-01"}, "from"),
        ("subscribers/s1", {"period": "month", "from": "2026-02-01"}, "period"),
        ("subscribers/s1", {"period": "decade"}, "period"),
        ("top", {"limit": 101}, "limit"),
        ("top", {"by": "color"}, "by"),
        ("top", {"from": "2020-01-01", "to": "2026-01-01"}, "from"),
    ]
    for path, params, field in cases:
        answer = await usage(reporting, path, tenant, **params)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == field, (params, answer.text)
    assert (await usage(reporting, "subscribers/nobody", tenant)).status_code == 404
    assert (await usage(reporting, "subscribers/s1", new_tenant())).status_code == 404
    assert (await usage(reporting, "customers/c1", new_tenant())).status_code == 404
    assert (await usage(reporting, "top", new_tenant())).json() == []
    assert (await usage(reporting, "top", tenant, role="collections")).status_code == 403
    month = (await usage(reporting, "subscribers/s1", tenant, period="month")).json()
    assert month["period_to"] == datetime.now(TOKYO).date().isoformat()
    assert month["period_from"] == datetime.now(TOKYO).date().replace(day=1).isoformat()
