"""Blocked-customers priority thresholds: a per-tenant setting (GET/PUT, finance or admin) whose defaults give
seed 000's own example (45 days blocked, 15,000 outstanding) `high`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .reporting_support import Harness, at, customer, invoice, new_tenant, status, subscriber

PATH = "/billing/reports/settings/priority-thresholds"


async def seed_example(reporting: Harness, tenant: str) -> None:
    """Seed 000's example row: 45 days blocked, 15,000.00 EUR outstanding; and 35 days with 9,000.00 EUR."""
    today = at().date()
    events: list[Any] = []
    for sid, cid, balance, days in [("s1", "c1", 1_500_000, 45), ("s2", "c2", 900_000, 35)]:
        events += [
            (customer(cid, f"Customer {cid}"), tenant),
            (subscriber(sid, cid, f"user-{sid}"), tenant),
            (status("activate", sid, cid, f"user-{sid}", at(days=-200)), tenant),
            (status("suspend", sid, cid, f"user-{sid}", at(days=-days, hours=-1), reason="non-payment"), tenant),
            (invoice(f"i-{sid}", cid, balance, due=today - timedelta(days=60)), tenant),
        ]
    await reporting.publish(*events)


async def test_defaults_give_seed_000s_example_high_and_a_tenant_can_change_them(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_example(reporting, tenant)

    rows = await reporting.ok("blocked-customers", tenant, "collections")
    assert [(r["subscriber_id"], r["days_blocked"], r["outstanding_balance"], r["priority"]) for r in rows] == [
        ("s1", 45, 15000.0, "high"),  # the seed's example
        ("s2", 35, 9000.0, "medium"),  # 30+ days, but not over 10,000
    ]

    defaults = await reporting.client.get(PATH, headers=reporting.headers(tenant, "finance"))
    assert defaults.status_code == 200
    body = defaults.json()
    assert body["is_default"] is True and body["updated_at"] is None
    assert {"min_days": 30, "balance_over": "10000"} in body["high"]

    # This tenant: high only from 40 days with more than 8,000; critical from 100,000.
    mine = {
        "critical": [{"min_days": 90}, {"balance_over": 100_000}],
        "high": [{"min_days": 40, "balance_over": 8_000}],
        "medium": [{"balance_over": "0.01"}],
    }
    put = await reporting.client.put(PATH, json=mine, headers=reporting.headers(tenant, "admin"))
    assert put.status_code == 200, put.text
    assert put.json()["is_default"] is False
    rows = await reporting.ok("blocked-customers", tenant, "finance")
    assert [(r["subscriber_id"], r["priority"]) for r in rows] == [("s1", "high"), ("s2", "medium")]

    mine["high"] = [{"min_days": 46}]
    assert (
        await reporting.client.put(PATH, json=mine, headers=reporting.headers(tenant, "finance"))
    ).status_code == 200
    rows = await reporting.ok("blocked-customers", tenant, "finance")
    assert [(r["subscriber_id"], r["priority"]) for r in rows] == [("s1", "medium"), ("s2", "medium")]
    got = (await reporting.client.get(PATH, headers=reporting.headers(tenant, "collections"))).json()
    assert got["high"] == [{"min_days": 46, "balance_over": None}] and got["is_default"] is False

    # Another tenant keeps the defaults.
    other = (await reporting.client.get(PATH, headers=reporting.headers(new_tenant(), "finance"))).json()
    assert other["is_default"] is True


async def test_bad_thresholds_are_422_naming_the_field_and_roles_are_checked(reporting: Harness) -> None:
    tenant = new_tenant()
    ok = {"critical": [{"min_days": 90}], "high": [{"min_days": 60}], "medium": [{"min_days": 30}]}

    async def put(body: Any, role: str = "finance") -> Any:
        return await reporting.client.put(PATH, json=body, headers=reporting.headers(tenant, role))

    empty_rule = await put(ok | {"high": [{}]})
    assert empty_rule.status_code == 422
    assert empty_rule.json()["detail"][0]["loc"][:3] == ["body", "high", 0]
    negative = await put(ok | {"medium": [{"balance_over": -1}]})
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["body", "medium", 0, "balance_over"]
    too_many_days = await put(ok | {"critical": [{"min_days": 10**9}]})
    assert too_many_days.json()["detail"][0]["loc"] == ["body", "critical", 0, "min_days"]
    missing = await put({"critical": [], "high": []})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "medium"]
    assert (await put(ok, role="collections")).status_code == 403
    assert (await put(ok, role="support")).status_code == 403
    support_read = await reporting.client.get(PATH, headers=reporting.headers(tenant, "support"))
    assert support_read.status_code == 403
