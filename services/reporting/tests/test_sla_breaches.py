"""GET /billing/reports/sla-breaches: breaches with the credits issued for them; summary over the filter."""

from __future__ import annotations

from .reporting_support import Harness, at, breach, breach_resolved, customer, new_tenant, sla_credit


async def seed_breaches(reporting: Harness, tenant: str) -> None:
    await reporting.publish(
        (customer("c1", "Acme Corp"), tenant),
        (customer("c2", "Bob Ltd"), tenant),
        # b1: 250.00 EUR credited, resolved
        (breach("b1", "inst-1", "c1", credit=25_000, detected_at=at(days=-10), severity="critical"), tenant),
        (sla_credit("b1", "inst-1", "c1", 25_000, at(days=-9)), tenant),
        (breach_resolved("b1", "inst-1", "c1", at(days=-8)), tenant),
        # b2: no credit yet, open
        (breach("b2", "inst-2", "c2", credit=5_000, detected_at=at(days=-7)), tenant),
        # b3: 10.00 USD credited, open
        (breach("b3", "inst-3", "c2", credit=1_000, detected_at=at(days=-5), currency="USD"), tenant),
        (sla_credit("b3", "inst-3", "c2", 1_000, at(days=-4), currency="USD"), tenant),
        # b4: resolution and credits before the detection (the row is complete whatever the order);
        # two credit notes, 5.00 + 2.50 EUR
        (breach_resolved("b4", "inst-4", "c1", at(days=-1)), tenant),
        (sla_credit("b4", "inst-4", "c1", 500, at(days=-2)), tenant),
        (sla_credit("b4", "inst-4", "c1", 250, at(days=-2)), tenant),
        (breach("b4", "inst-4", "c1", credit=750, detected_at=at(days=-3), severity="minor"), tenant),
    )


def ids(report: dict) -> list[str]:  # type: ignore[type-arg]
    return [b["breach_id"] for b in report["breaches"]]


async def test_breaches_with_credits_and_summary(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_breaches(reporting, tenant)

    report = await reporting.ok("sla-breaches", tenant, "ops")

    assert report["summary"] == {
        "total_breaches": 4,
        "resolved_breaches": 2,
        "unresolved_breaches": 2,
        "total_credits_issued": [
            {"currency": "EUR", "amount": 257.5, "amount_minor": 25_750},
            {"currency": "USD", "amount": 10.0, "amount_minor": 1_000},
        ],
    }
    assert report["pagination"] == {"limit": 100, "offset": 0, "has_more": False}
    assert ids(report) == ["b4", "b3", "b2", "b1"]  # newest detection first
    b1 = report["breaches"][3]
    assert b1 == {
        "breach_id": "b1",
        "breach_type": "availability",
        "severity": "critical",
        "detected_at": b1["detected_at"],
        "resolved_at": b1["resolved_at"],
        "resolved": True,
        "resolution": "link repaired",
        "target_value": 99.9,
        "actual_value": 97.5,
        "deviation_percent": 2.41,
        "period_start": b1["period_start"],
        "period_end": b1["period_end"],
        "currency": "EUR",
        "credit_amount": 250.0,
        "credit_amount_minor": 25_000,
        "expected_credit_amount": 250.0,
        "expected_credit_amount_minor": 25_000,
        "instance_id": "inst-1",
        "customer_id": "c1",
        "customer_name": "Acme Corp",
        "service_id": "sub-inst-1",
        "service_name": "Business Internet 100Mbps",
        "sla_status": "resolved",
    }
    b4, b2 = report["breaches"][0], report["breaches"][2]
    assert (b4["credit_amount_minor"], b4["credit_amount"], b4["resolved"], b4["severity"]) == (750, 7.5, True, "minor")
    assert (b2["credit_amount_minor"], b2["expected_credit_amount"], b2["sla_status"]) == (0, 50.0, "breached")


async def test_filters_resolved_and_min_credit_amount(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_breaches(reporting, tenant)

    resolved = await reporting.ok("sla-breaches", tenant, "finance", resolved="true")
    assert ids(resolved) == ["b4", "b1"]
    assert resolved["summary"]["total_breaches"] == 2
    assert resolved["summary"]["unresolved_breaches"] == 0
    assert resolved["summary"]["total_credits_issued"] == [{"currency": "EUR", "amount": 257.5, "amount_minor": 25_750}]

    unresolved = await reporting.ok("sla-breaches", tenant, "finance", resolved="false")
    assert ids(unresolved) == ["b3", "b2"]
    assert unresolved["summary"]["total_credits_issued"] == [{"currency": "USD", "amount": 10.0, "amount_minor": 1_000}]

    # In major units of each breach's own currency: 10.00 USD qualifies for 10, 7.50 EUR does not.
    assert ids(await reporting.ok("sla-breaches", tenant, "finance", min_credit_amount="10")) == ["b3", "b1"]
    assert ids(await reporting.ok("sla-breaches", tenant, "finance", min_credit_amount="10.01")) == ["b1"]
    assert ids(await reporting.ok("sla-breaches", tenant, "finance", min_credit_amount="7.5")) == ["b4", "b3", "b1"]
    both = await reporting.ok("sla-breaches", tenant, "finance", min_credit_amount="5", resolved="true")
    assert ids(both) == ["b4", "b1"]


async def test_pagination_keeps_the_summary_of_everything(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_breaches(reporting, tenant)
    page = await reporting.ok("sla-breaches", tenant, "ops", limit=2, offset=1)
    assert ids(page) == ["b3", "b2"]
    assert page["pagination"] == {"limit": 2, "offset": 1, "has_more": True}
    assert page["summary"]["total_breaches"] == 4
    last = await reporting.ok("sla-breaches", tenant, "ops", limit=2, offset=2)
    assert ids(last) == ["b2", "b1"]
    assert last["pagination"]["has_more"] is False


async def test_bad_parameters_are_422_with_the_field(reporting: Harness) -> None:
    tenant = new_tenant()
    for params, field in [
        ({"min_credit_amount": "-1"}, "min_credit_amount"),
        ({"min_credit_amount": "lots"}, "min_credit_amount"),
        ({"resolved": "maybe"}, "resolved"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"offset": "-5"}, "offset"),
    ]:
        response = await reporting.get("sla-breaches", tenant, "ops", **params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_the_totals_equal_the_sums_over_breaches_as_they_change(reporting: Harness) -> None:
    """The summary of every breach is read from sla_totals: it follows detection, resolution and credits in any
    order, and a credit for a breach not yet detected counts nowhere until the detection arrives."""
    tenant = new_tenant()
    await seed_breaches(reporting, tenant)

    async def totals() -> list[tuple[str, bool, int, int]]:
        rows = await reporting.rows(
            "SELECT currency, resolved, breaches, credit_issued_minor FROM readmodel.sla_totals WHERE tenant_id = :t "
            "ORDER BY 1, 2",
            t=tenant,
        )
        return [tuple(r) for r in rows]

    async def sums() -> list[tuple[str, bool, int, int]]:
        rows = await reporting.rows(
            "SELECT currency, resolved_at IS NOT NULL, count(*), sum(credit_issued_minor) FROM readmodel.sla_breaches "
            "WHERE tenant_id = :t AND detected_at IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
            t=tenant,
        )
        return [tuple(r) for r in rows]

    assert await totals() == await sums() == [("EUR", False, 1, 0), ("EUR", True, 2, 25_750), ("USD", False, 1, 1_000)]
    await reporting.publish(
        (breach_resolved("b2", "inst-2", "c2", at(days=-6)), tenant),
        (sla_credit("b2", "inst-2", "c2", 5_000, at(days=-6)), tenant),
        (sla_credit("b5", "inst-5", "c1", 300, at(days=-1)), tenant),  # b5 not detected (yet)
    )
    assert await totals() == await sums() == [("EUR", True, 3, 30_750), ("USD", False, 1, 1_000)]
    report = await reporting.ok("sla-breaches", tenant, "ops")
    assert (report["summary"]["total_breaches"], report["summary"]["resolved_breaches"]) == (4, 3)
    await reporting.publish((breach("b5", "inst-5", "c1", credit=300, detected_at=at(days=-2)), tenant))
    assert (
        await totals() == await sums() == [("EUR", False, 1, 300), ("EUR", True, 3, 30_750), ("USD", False, 1, 1_000)]
    )
    unresolved = await reporting.ok("sla-breaches", tenant, "ops", resolved="false")
    assert unresolved["summary"]["total_credits_issued"] == [
        {"currency": "EUR", "amount": 3.0, "amount_minor": 300},
        {"currency": "USD", "amount": 10.0, "amount_minor": 1_000},
    ]
