"""Inputs past what the columns hold answer 422 naming the field, never 500 (issue 11's fuzzing findings);
the subscriptions list is paged like the others."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .support import RunningBilling, unique

pytestmark = pytest.mark.timeout(120)

BEYOND_INT64 = "9223372036854775808"


def _refused(response: httpx.Response, *loc: str | int) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    assert [d["loc"] for d in detail] == [list(loc)], detail
    return detail[0]


async def test_offsets_past_int64_are_refused_on_every_paged_list(billing: RunningBilling) -> None:
    for path in ("/billing/invoices", "/billing/payments", "/billing/credit-notes", "/billing/subscriptions"):
        response = await billing.client.get(path, params={"offset": BEYOND_INT64}, headers=billing.auth())
        _refused(response, "query", "offset")


async def test_nul_in_a_body_or_query_string_is_refused(billing: RunningBilling) -> None:
    plan = {"code": "NUL\u0000", "name": "Nul", "currency": "EUR", "price_minor": 1}
    _refused(await billing.client.post("/billing/plans", json=plan, headers=billing.auth()), "body", "code")
    for path, param in [("/billing/invoices", "customer_id"), ("/billing/subscriptions", "subscriber_id"),
                        ("/billing/sla/breaches", "instance_id")]:  # fmt: skip
        response = await billing.client.get(path, params={param: "c\u0000"}, headers=billing.auth())
        _refused(response, "query", param)


async def test_a_line_amount_beyond_int64_is_refused(billing: RunningBilling) -> None:
    customer = unique("cust")
    await billing.add_customer(customer)
    line = {"description": "a lot", "unit_price_minor": 10**15, "quantity": "1000000"}
    body = {"customer_id": customer, "currency": "EUR", "lines": [line], "issue": True}
    created = await billing.client.post("/billing/invoices", json=body, headers=billing.auth())
    assert "must not exceed" in _refused(created, "body", "lines", 0)["msg"]
    fits = body | {"lines": [line | {"quantity": "1"}] * 3}
    invoice = await billing.post("/billing/invoices", fits)
    assert invoice["total_minor"] == 3 * 10**15


async def test_names_longer_than_their_column_are_refused(billing: RunningBilling) -> None:
    plan = {"code": unique("P"), "name": "p" * 201, "currency": "EUR", "price_minor": 1}
    _refused(await billing.client.post("/billing/plans", json=plan, headers=billing.auth()), "body", "name")
    assert (await billing.post("/billing/plans", plan | {"name": "p" * 200}))["name"] == "p" * 200

    definition = {"name": "d" * 201, "target_percent": "99.9"}
    created = await billing.client.post("/billing/sla/definitions", json=definition, headers=billing.auth())
    _refused(created, "body", "name")
    assert (await billing.post("/billing/sla/definitions", definition | {"name": "d" * 200}))["name"] == "d" * 200


async def test_dates_outside_1900_to_2200_are_refused(billing: RunningBilling) -> None:
    customer, subscriber = unique("cust"), unique("sub")
    await billing.add_customer(customer, subscriber_id=subscriber)
    payment = {"amount_minor": 100, "currency": "EUR", "customer_id": customer,
               "received_at": "0001-01-01T00:00:00+14:00"}  # fmt: skip
    response = await billing.client.post("/billing/payments", json=payment, headers=billing.auth())
    _refused(response, "body", "received_at")
    plan = await billing.post("/billing/plans", {"code": unique("P"), "name": "Home", "currency": "EUR",
                                                 "price_minor": 1_000})  # fmt: skip
    subscription = {"subscriber_id": subscriber, "plan_id": plan["id"], "start_date": "9999-12-31"}
    response = await billing.client.post("/billing/subscriptions", json=subscription, headers=billing.auth())
    _refused(response, "body", "start_date")


async def test_subscriptions_are_listed_a_page_at_a_time(billing: RunningBilling) -> None:
    plan = await billing.post("/billing/plans", {"code": unique("P"), "name": "Home", "currency": "EUR",
                                                 "price_minor": 1_000})  # fmt: skip
    customer = unique("cust")
    subscribers = [unique("sub") for _ in range(3)]
    for subscriber in subscribers:
        await billing.add_customer(customer, subscriber_id=subscriber)
        await billing.post("/billing/subscriptions", {"subscriber_id": subscriber, "plan_id": plan["id"]})

    first = await billing.get("/billing/subscriptions", customer_id=customer, limit=2)
    rest = await billing.get("/billing/subscriptions", customer_id=customer, limit=2, offset=2)
    assert (len(first), len(rest)) == (2, 1)
    assert sorted(s["subscriber_id"] for s in first + rest) == sorted(subscribers)
    plans = await billing.get("/billing/plans", limit=1)
    assert [p["id"] for p in plans] == [plan["id"]]
    assert await billing.get("/billing/plans", offset=1) == []
    _refused(await billing.client.get("/billing/subscriptions", params={"limit": 201}, headers=billing.auth()),
             "query", "limit")  # fmt: skip


async def test_sla_lists_are_paged(billing: RunningBilling) -> None:
    for name in ("Gold", "Silver", "Bronze"):
        await billing.post("/billing/sla/definitions", {"name": name, "target_percent": "99.9"})
    first = await billing.get("/billing/sla/definitions", limit=2)
    rest = await billing.get("/billing/sla/definitions", limit=2, offset=2)
    assert [d["name"] for d in first + rest] == ["Bronze", "Gold", "Silver"]
    for path in ("/billing/sla/instances", "/billing/sla/breaches", "/billing/sla/definitions"):
        response = await billing.client.get(path, params={"offset": BEYOND_INT64}, headers=billing.auth())
        _refused(response, "query", "offset")
