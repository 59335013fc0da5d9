"""Inputs past what the columns hold answer 422 naming the field, never 500 (issue 11's fuzzing findings)."""

from __future__ import annotations

from typing import Any

import httpx

from .support import campaign_body

BEYOND_INT64 = "9223372036854775808"


def _refused(response: httpx.Response, *loc: str | int) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    assert detail[0]["loc"] == list(loc), detail
    return detail[0]


async def test_deep_json_nul_huge_numbers_and_offsets_are_refused(start_dunning, smtp):
    dunning = await start_dunning(smtp_port=smtp.port)
    manager = dunning.auth("collections")

    nested: dict[str, Any] = {"leaf": 1}
    for _ in range(300):
        nested = {"a": nested}
    deep = campaign_body("Deep", {"type": "custom", "config": nested})
    response = await dunning.client.post("/dunning/campaigns", json=deep, headers=manager)
    assert "levels deep" in _refused(response, "body", "actions", 0, "config")["msg"]
    shallow = campaign_body("Shallow", {"type": "custom", "config": {"a": {"b": {"c": [1, 2, {"d": "e"}]}}}})
    created = await dunning.client.post("/dunning/campaigns", json=shallow, headers=manager)
    assert created.status_code == 201, created.text

    nul = campaign_body("Nul", {"type": "custom", "config": {"reason": "a\u0000b"}})
    _refused(await dunning.client.post("/dunning/campaigns", json=nul, headers=manager), "body", "actions", 0, "config")
    nul_name = campaign_body("N\u0000", {"type": "custom"})
    _refused(await dunning.client.post("/dunning/campaigns", json=nul_name, headers=manager), "body", "name")

    huge = campaign_body("Huge", {"type": "custom"}, exclusion_rules={"min_outstanding_minor": {"EUR": 2**63}})
    response = await dunning.client.post("/dunning/campaigns", json=huge, headers=manager)
    _refused(response, "body", "exclusion_rules", "min_outstanding_minor", "EUR")

    reader = dunning.auth("finance")
    response = await dunning.client.get("/dunning/executions", params={"offset": BEYOND_INT64}, headers=reader)
    _refused(response, "query", "offset")
    response = await dunning.client.get("/dunning/executions", params={"customer_id": "c\u0000"}, headers=reader)
    _refused(response, "query", "customer_id")

    # Campaigns are listed a page at a time, highest priority first.
    for priority in (1, 2, 3):
        body = campaign_body(f"P{priority}", {"type": "custom"}, priority=priority)
        assert (await dunning.client.post("/dunning/campaigns", json=body, headers=manager)).status_code == 201
    first = (await dunning.client.get("/dunning/campaigns", params={"limit": 2}, headers=reader)).json()
    rest = (await dunning.client.get("/dunning/campaigns", params={"limit": 2, "offset": 2}, headers=reader)).json()
    assert [c["name"] for c in first + rest] == ["P3", "P2", "P1", "Shallow"]
