"""NAS client inputs past what the columns hold answer 422 naming the field, never 500 (issue 11)."""

from __future__ import annotations

from typing import Any

import httpx

from .support import Service


def _refused(response: httpx.Response, *loc: str | int) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    assert detail[0]["loc"] == list(loc), detail
    return detail[0]


async def test_nul_and_oversized_nas_client_fields_are_refused(service: Service) -> None:
    ops = service.token("initech", "ops")
    client = {"nas_id": "bng-9", "address": "127.0.0.9", "secret": "s3cret-9"}
    async with service.http() as http:
        for field, value in [("secret", "s\u0000"), ("description", "d\u0000"), ("address", "1" * 100_000)]:
            response = await http.post("/nas-clients", headers=ops, json=client | {field: value})
            _refused(response, "body", field)
            assert len(response.content) < 1_000
        created = await http.post("/nas-clients", headers=ops, json=client | {"description": "fine"})
        assert created.status_code == 201, created.text
        changed = await http.patch("/nas-clients/bng-9", headers=ops, json={"description": "x\u0000"})
        _refused(changed, "body", "description")
        unknown = await http.get("/nas-clients/bng%00", headers=ops)
        assert unknown.status_code in (404, 422), unknown.text

        # Listed a page at a time, by nas_id.
        for n in (7, 8):
            more = client | {"nas_id": f"bng-{n}", "address": f"127.0.0.{n}"}
            assert (await http.post("/nas-clients", headers=ops, json=more)).status_code == 201
        first = (await http.get("/nas-clients", headers=ops, params={"limit": 2})).json()
        rest = (await http.get("/nas-clients", headers=ops, params={"limit": 2, "offset": 2})).json()
        assert [c["nas_id"] for c in first + rest] == ["bng-7", "bng-8", "bng-9"]
        _refused(await http.get("/nas-clients", headers=ops, params={"offset": 2**63}), "query", "offset")
