"""Bounded inputs and the answers to bad ones: a 422 that always renders and echoes only an excerpt, and values
the database refuses answered 422/409 instead of 500 (on the real database)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import insert

from bss_runtime.inputs import JsonObject, Offset, Text, Timestamp, limit
from bss_runtime.service import ServiceRuntime
from bss_runtime.settings import ServiceSettings

from .support import ledger, tables

router = APIRouter()


class Named(BaseModel):
    name: Annotated[str, Text(10)]
    count: int = 0
    config: JsonObject = {}
    at: Timestamp | None = None


@router.post("/named")
async def named(body: Named) -> dict[str, str]:
    return {"name": body.name}


@router.get("/page")
async def page(offset: Offset = 0, size: Annotated[int, limit(50)] = 10) -> dict[str, int]:
    return {"offset": offset, "size": size}


class Unchecked(BaseModel):
    """Deliberately unbounded: what the database does with values no type stopped."""

    event_id: uuid.UUID
    customer_id: str
    seq: int


@router.post("/ledger")
async def write_ledger(body: Unchecked, request: Request) -> None:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.database.transaction() as session:
        await session.execute(insert(ledger).values(**body.model_dump()))


@pytest.fixture(scope="module")
async def client(fresh_database: Any, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(
        service_name="inputs", database_url=await fresh_database("inputs"), kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"{topic_prefix}inputs.",
    )  # fmt: skip
    runtime = ServiceRuntime(settings, tables)
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(tables.outbox.metadata.create_all)
    app = runtime.http_app(router, title="inputs")
    transport = httpx.ASGITransport(app=app)
    async with runtime.running(), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


def _raw(text: str) -> dict[str, Any]:
    """A JSON body sent as written (escapes such as \\ud800 or \\u0000 reach the server as they are)."""
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    return detail[0]


async def test_lone_surrogates_and_nul_are_refused_with_a_422_that_renders(client: httpx.AsyncClient) -> None:
    surrogate = _error(await client.post("/named", **_raw('{"name": "\\ud800"}')))
    assert surrogate["loc"] == ["body", "name"]
    assert surrogate["input"] == "\ud800"

    # A value that fails another rule is echoed, the surrogate escaped in the JSON answer.
    wrong_type = await client.post("/named", **_raw('{"name": "ok", "count": "\\ud800"}'))
    assert _error(wrong_type)["input"] == "\ud800"
    assert b"\\ud800" in wrong_type.content

    nul = _error(await client.post("/named", **_raw('{"name": "a\\u0000b"}')))
    assert "NUL" in nul["msg"]
    assert (await client.post("/named", json={"name": "fine"})).json() == {"name": "fine"}


async def test_a_422_echoes_only_an_excerpt_of_ten_megabytes(client: httpx.AsyncClient) -> None:
    huge = "x" * 10_000_000
    response = await client.post("/named", json={"name": huge})
    error = _error(response)
    assert error["type"] == "string_too_long"
    assert len(response.content) < 1_000
    assert error["input"].startswith("xxxx") and len(error["input"]) <= 101

    many = await client.post("/named", json={"name": "ok", "count": [list(range(1000))] * 1000})
    assert _error(many)["loc"] == ["body", "count"]
    assert len(many.content) < 2_000


async def test_paging_json_depth_and_era_are_bounded(client: httpx.AsyncClient) -> None:
    assert _error(await client.get("/page", params={"offset": "9223372036854775808"}))["loc"] == ["query", "offset"]
    assert _error(await client.get("/page", params={"size": "51"}))["loc"] == ["query", "size"]
    assert (await client.get("/page", params={"offset": 5, "size": 50})).json() == {"offset": 5, "size": 50}

    nested: dict[str, Any] = {}
    for _ in range(300):
        nested = {"a": nested}
    deep = _error(await client.post("/named", json={"name": "ok", "config": nested}))
    assert deep["loc"] == ["body", "config"] and "levels deep" in deep["msg"]
    nul_key = _error(await client.post("/named", **_raw('{"name": "ok", "config": {"k\\u0000": 1}}')))
    assert nul_key["loc"] == ["body", "config"]

    year_one = _error(await client.post("/named", json={"name": "ok", "at": "0001-01-01T00:00:00+14:00"}))
    assert year_one["loc"] == ["body", "at"] and "1900" in year_one["msg"]
    assert (await client.post("/named", json={"name": "ok", "at": "2200-12-31T23:59:59-12:00"})).status_code == 200


async def test_values_the_database_refuses_answer_422_or_409(client: httpx.AsyncClient) -> None:
    event_id = str(uuid.uuid4())
    beyond_int32 = await client.post("/ledger", json={"event_id": event_id, "customer_id": "c", "seq": 2**31})
    assert "out of range" in _error(beyond_int32)["msg"]
    nul = await client.post("/ledger", json={"event_id": event_id, "customer_id": "a\u0000b", "seq": 1})
    assert "out of range or malformed" in _error(nul)["msg"]

    assert (await client.post("/ledger", json={"event_id": event_id, "customer_id": "c", "seq": 1})).status_code == 200
    again = await client.post("/ledger", json={"event_id": event_id, "customer_id": "c", "seq": 1})
    assert again.status_code == 409, again.text
    assert "conflicts" in json.loads(again.content)["detail"][0]["msg"]
