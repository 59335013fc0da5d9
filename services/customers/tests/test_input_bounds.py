"""Inputs past what the columns hold answer 422 naming the field, never 500 (issue 11's fuzzing findings)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .support import full_customer

pytestmark = pytest.mark.timeout(120)

BEYOND_INT64 = "9223372036854775808"


def _refused(response: httpx.Response, *loc: str | int) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    assert [d["loc"] for d in detail] == [list(loc)], detail
    return detail[0]


async def test_offsets_past_int64_are_refused_on_every_paged_list(service, tenant):
    headers = service.headers(tenant, "support")
    created = await service.client.post("/customers", json={"name": "Paged"}, headers=headers)
    customer_id = created.json()["customer_id"]
    for path in ("/customers", "/subscribers", f"/customers/{customer_id}/subscribers"):
        response = await service.client.get(path, params={"offset": BEYOND_INT64}, headers=headers)
        _refused(response, "query", "offset")


async def test_nul_in_a_body_or_query_string_is_refused(service, tenant):
    headers = service.headers(tenant, "support")
    body = await service.client.post("/customers", json=full_customer(name="Ada\u0000"), headers=headers)
    _refused(body, "body", "name")
    for param in ("region", "tag", "partner_id", "service_city", "username", "customer_id"):
        path = "/subscribers" if param in ("username", "customer_id") else "/customers"
        query = await service.client.get(path, params={param: "north\u0000"}, headers=headers)
        _refused(query, "query", param)


async def test_a_lone_surrogate_in_a_json_body_is_refused(service, tenant):
    headers = service.headers(tenant, "support") | {"content-type": "application/json"}
    response = await service.client.post("/customers", content=b'{"name": "\\ud800"}', headers=headers)
    _refused(response, "body", "name")
    assert b"\\ud800" in response.content


async def test_outage_counters_beyond_int32_are_refused(service, tenant):
    headers = service.headers(tenant, "support")
    for field in ("total_outages", "total_downtime_minutes"):
        created = await service.client.post("/customers", json=full_customer(**{field: 2**31}), headers=headers)
        _refused(created, "body", field)
    ok = await service.client.post("/customers", json=full_customer(total_outages=2**31 - 1), headers=headers)
    assert ok.status_code == 201, ok.text
    patched = await service.client.patch(
        f"/customers/{ok.json()['customer_id']}", json={"total_downtime_minutes": 2**40}, headers=headers
    )
    _refused(patched, "body", "total_downtime_minutes")


async def test_a_ten_megabyte_name_is_not_echoed_back_whole(service, tenant):
    headers = service.headers(tenant, "support")
    response = await service.client.post("/customers", json={"name": "n" * 10_000_000}, headers=headers)
    assert _refused(response, "body", "name")["type"] == "string_too_long"
    assert len(response.content) < 1_000


async def test_partners_history_and_requests_are_listed_a_page_at_a_time(service, tenant):
    headers = service.headers(tenant, "support")
    for name in ("Alpha", "Bravo", "Charlie"):
        assert (await service.client.post("/partners", json={"name": name}, headers=headers)).status_code == 201
    first = (await service.client.get("/partners", params={"limit": 2}, headers=headers)).json()
    rest = (await service.client.get("/partners", params={"limit": 2, "offset": 2}, headers=headers)).json()
    assert [p["name"] for p in first + rest] == ["Alpha", "Bravo", "Charlie"]

    customer_id = (await service.client.post("/customers", json={"name": "Paged"}, headers=headers)).json()[
        "customer_id"
    ]
    created = await service.client.post(f"/customers/{customer_id}/subscribers", json={"username": "p@isp"},
                                        headers=headers)  # fmt: skip
    sid = created.json()["subscriber_id"]
    for action in ("activate", "suspend", "reinstate"):
        assert (await service.client.post(f"/subscribers/{sid}/{action}", headers=headers)).status_code == 200
    history = await service.client.get(f"/subscribers/{sid}/history", params={"limit": 2, "offset": 1}, headers=headers)
    assert [c["action"] for c in history.json()] == ["suspend", "reinstate"]
    requests = f"/subscribers/{sid}/requests"
    _refused(await service.client.get(requests, params={"offset": BEYOND_INT64}, headers=headers), "query", "offset")
