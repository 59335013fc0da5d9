"""Every endpoint: a JWT is required, roles decide who reads which report, and the tenant comes from the
token: no endpoint returns another tenant's rows, even when both tenants use the same ids."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from .reporting_support import (
    Harness,
    at,
    breach,
    customer,
    invoice,
    new_tenant,
    session_event,
    sla_credit,
    status,
    subscriber,
)

ENDPOINTS = {
    "blocked-customers": {"finance", "collections", "support"},
    "aging/by-partner": {"finance", "collections"},
    "aging/by-region": {"finance", "collections"},
    "services/export": {"finance", "ops"},
    "sla-breaches": {"finance", "ops"},
    "sessions/history": {"ops", "support"},
}
ROLES = ["admin", "finance", "collections", "ops", "support", "service"]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_roles(reporting: Harness, path: str) -> None:
    tenant = new_tenant()
    for role in ROLES:
        response = await reporting.get(path, tenant, role)
        allowed = role == "admin" or role in ENDPOINTS[path]
        assert response.status_code == (200 if allowed else 403), (path, role, response.text)
    assert (await reporting.get(path, tenant, "finance", "ops", "support")).status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_token_is_required(reporting: Harness, path: str) -> None:
    assert (await reporting.client.get(f"/billing/reports/{path}")).status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert (await reporting.client.get(f"/billing/reports/{path}", headers=bad)).status_code == 401


async def seed_twin_tenants(reporting: Harness, a: str, b: str) -> None:
    """Both tenants use the very same ids; only the amounts (and names) tell them apart."""
    events = []
    for tenant, n, name in ((a, 1, "Alpha"), (b, 2, "Beta")):
        start = at(days=-1)
        events += [
            (customer("c1", name, partner_id="p1", billing_country="DE"), tenant),
            (subscriber("s1", "c1", "u1"), tenant),
            (status("activate", "s1", "c1", "u1", at(days=-90)), tenant),
            (status("suspend", "s1", "c1", "u1", at(days=-40, hours=-1)), tenant),
            (invoice("i1", "c1", 1000 * n, due=at(days=-35).date()), tenant),
            (breach("b1", "inst-1", "c1", credit=100 * n, detected_at=at(days=-3)), tenant),
            (sla_credit("b1", "inst-1", "c1", 100 * n, at(days=-2)), tenant),
            (session_event("stop", "K1", "u1", start=start, when=start + timedelta(hours=1), seconds=60 * n,
                           octets_in=n, octets_out=n), tenant),
            (subscriber("s2", "c1", "u2"), tenant),
            (status("activate", "s2", "c1", "u2", at(days=-90)), tenant),
        ]  # fmt: skip
    await reporting.publish(*events)


async def test_no_endpoint_returns_another_tenants_rows(reporting: Harness) -> None:
    a, b, nobody = new_tenant(), new_tenant(), new_tenant()
    await seed_twin_tenants(reporting, a, b)

    for tenant, n, name in ((a, 1, "Alpha"), (b, 2, "Beta")):
        blocked = await reporting.ok("blocked-customers", tenant, "admin")
        assert [(r["subscriber_id"], r["customer_name"], r["outstanding_balance_minor"]) for r in blocked] == [
            ("s1", name, 1000 * n)
        ]
        for path, key in (("aging/by-partner", "partner_id"), ("aging/by-region", "region")):
            aging = await reporting.ok(path, tenant, "admin")
            assert [(r[key], r["invoice_count"], r["total_outstanding_minor"]) for r in aging] == [
                ("p1" if key == "partner_id" else "DE", 1, 1000 * n)
            ]
        sla = await reporting.ok("sla-breaches", tenant, "admin")
        assert sla["summary"]["total_breaches"] == 1
        assert [(x["breach_id"], x["credit_amount_minor"], x["customer_name"]) for x in sla["breaches"]] == [
            ("b1", 100 * n, name)
        ]
        sessions = await reporting.ok("sessions/history", tenant, "admin")
        assert sessions["summary"]["total_sessions"] == 1
        assert sessions["summary"]["total_duration_seconds"] == 60 * n
        assert [(s["session_key"], s["total_bytes"]) for s in sessions["sessions"]] == [("K1", 2 * n)]
        by_user = await reporting.ok("sessions/history", tenant, "admin", subscriber_id="s1")
        assert by_user["summary"]["total_bytes"] == 2 * n
        csv = (await reporting.get("services/export", tenant, "admin", include_suspended="true")).text.splitlines()
        assert [[*line.split(",")[:3], line.split(",")[6]] for line in csv[1:]] == [
            ["s1", "u1", "suspended", name],
            ["s2", "u2", "active", name],
        ]
        rows = json.loads((await reporting.get("services/export", tenant, "admin", format="json")).content)
        assert [(r["subscriber_id"], r["customer_name"]) for r in rows] == [("s2", name)]
        parquet = pq.read_table(
            io.BytesIO((await reporting.get("services/export", tenant, "admin", format="parquet")).content)
        )
        assert parquet.column("customer_name").to_pylist() == [name]

    assert await reporting.ok("blocked-customers", nobody, "admin") == []
    assert await reporting.ok("aging/by-partner", nobody, "admin") == []
    assert await reporting.ok("aging/by-region", nobody, "admin") == []
    assert (await reporting.ok("sla-breaches", nobody, "admin"))["breaches"] == []
    assert (await reporting.ok("sessions/history", nobody, "admin"))["summary"]["total_sessions"] == 0
    assert (await reporting.get("services/export", nobody, "admin")).text.count("\n") == 1  # the header only
