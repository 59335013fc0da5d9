"""HTTP API of bulk operations: submit (ids, a filter, or a CSV file), follow (state, items, report, SSE), cancel.

Who may submit a kind: admin and the kind's owning role (see `service_layer.register`); any reader may follow.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import status as http
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from bss_contracts.events.customers import SubscriberStatus
from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.bulk import FINAL_STATES, BulkEngine, BulkSettings, progress_view
from bss_runtime.errors import RuleViolation
from bss_runtime.inputs import Id, Offset, Text, limit
from bss_runtime.service import ServiceRuntime
from customers.bulk import adapters
from customers.bulk.domain import FileRefused, read_csv
from customers.bulk.service_layer import IMPORT, TAG

Anyone = Annotated[
    Principal, Depends(require_roles(Role.SUPPORT, Role.OPS, Role.FINANCE, Role.COLLECTIONS, Role.SERVICE))
]

router = APIRouter(prefix="/bulk-operations", tags=["bulk operations"])


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _engine(request: Request) -> BulkEngine:
    engine: BulkEngine = request.app.state.bulk
    return engine


Runtime = Annotated[ServiceRuntime, Depends(_runtime)]
Engine = Annotated[BulkEngine, Depends(_engine)]


class SubscriberFilter(BaseModel):
    status: SubscriberStatus | None = None
    plan_id: Annotated[str, Text(64)] | None = None
    customer_id: Id | None = None


class BulkRequest(BaseModel):
    kind: Annotated[str, Text(64)] = Field(examples=["subscribers.suspend"])
    ids: Annotated[list[Id], Field(min_length=1, max_length=200_000)] | None = None
    filter: SubscriberFilter | None = Field(default=None, description="subscribers.* kinds: the lines it selects")
    reason: Annotated[str, Text(500)] | None = None
    tag: Annotated[str, Text(50)] | None = Field(default=None, description="customers.tag: the tag to add")


class BulkOperationOut(BaseModel):
    operation_id: str
    kind: str
    state: Literal["queued", "running", "completed", "completed_with_errors", "canceled", "failed"]
    requested_by: str
    total: int
    done: int
    succeeded: int
    failed: int
    canceled: int
    rate_per_second: float | None
    eta_seconds: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BulkItemOut(BaseModel):
    seq: int
    ref: str = Field(description="The item: an id, or `row N` of the file (the header is row 1)")
    status: Literal["pending", "succeeded", "failed", "canceled"]
    error: str | None
    column: str | None
    result: str | None


def _allowed(engine: BulkEngine, who: Principal, kind: str) -> None:
    spec = engine.kind(kind)
    if not who.has_any(spec.roles):
        raise HTTPException(
            http.HTTP_403_FORBIDDEN, f"{kind} requires one of the roles: admin, {', '.join(spec.roles)}"
        )


@router.post("", status_code=http.HTTP_202_ACCEPTED)
async def submit(body: BulkRequest, who: Anyone, rt: Runtime, engine: Engine) -> BulkOperationOut:
    """A kind over an id list or (subscribers.*) a filter; customers.import takes a file (`POST /imports`)."""
    _allowed(engine, who, body.kind)
    if body.kind == IMPORT:
        raise RuleViolation("customers.import takes a CSV file: POST /bulk-operations/imports", field="kind")
    if (body.ids is None) == (body.filter is None):
        raise RuleViolation("give either ids or a filter", field="ids")
    if body.kind == TAG and body.tag is None:
        raise RuleViolation("customers.tag needs a tag", field="tag")
    if body.filter is not None and not body.kind.startswith("subscribers."):
        raise RuleViolation(f"{body.kind} takes ids, not a filter", field="filter")
    settings: BulkSettings = rt.settings  # type: ignore[assignment]
    async with rt.database.transaction() as session:
        if body.filter is not None:
            f = body.filter
            ids = await adapters.subscriber_ids(
                session, who.tenant_id, status=f.status, plan_id=f.plan_id, customer_id=f.customer_id,
                limit=settings.bulk_max_items,
            )  # fmt: skip
            if not ids:
                raise RuleViolation("the filter selects no lines", field="filter")
        else:
            assert body.ids is not None
            ids = list(dict.fromkeys(body.ids))
        params: dict[str, Any] = {k: v for k, v in {"reason": body.reason, "tag": body.tag}.items() if v is not None}
        if body.filter is not None:
            params["filter"] = body.filter.model_dump(exclude_none=True)
        op_id = await engine.submit(
            session, who.tenant_id, body.kind, [(i, {}) for i in ids], params=params, requested_by=who.subject
        )
        return BulkOperationOut.model_validate(progress_view(await engine.get(session, who.tenant_id, op_id)))


@router.post(
    "/imports",
    status_code=http.HTTP_202_ACCEPTED,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
    responses={413: {"description": "The file is over BULK_MAX_UPLOAD_BYTES"}},
)
async def submit_import(request: Request, who: Anyone, rt: Runtime, engine: Engine) -> BulkOperationOut:
    """customers.import: the request body is the CSV file (columns: see the README); 202, then per-row results."""
    _allowed(engine, who, IMPORT)
    settings: BulkSettings = rt.settings  # type: ignore[assignment]
    data = bytearray()
    async for part in request.stream():
        data.extend(part)
        if len(data) > settings.bulk_max_upload_bytes:
            raise HTTPException(
                http.HTTP_413_CONTENT_TOO_LARGE,
                f"the file is over the limit of {settings.bulk_max_upload_bytes} bytes",
            )
    try:
        rows = read_csv(bytes(data))
    except FileRefused as exc:
        raise RuleViolation(str(exc), field="file") from exc
    if len(rows) > settings.bulk_max_items:
        raise RuleViolation(f"the file has {len(rows)} rows; the limit is {settings.bulk_max_items}", field="file")
    async with rt.database.transaction() as session:
        op_id = await engine.submit(
            session, who.tenant_id, IMPORT, [(f"row {r.number}", r.values) for r in rows], params={},
            requested_by=who.subject,
        )  # fmt: skip
        return BulkOperationOut.model_validate(progress_view(await engine.get(session, who.tenant_id, op_id)))


@router.get("/{operation_id}")
async def get_operation(operation_id: Id, who: Anyone, rt: Runtime, engine: Engine) -> BulkOperationOut:
    async with rt.database.transaction() as session:
        return BulkOperationOut.model_validate(progress_view(await engine.get(session, who.tenant_id, operation_id)))


ItemStatus = Literal["pending", "succeeded", "failed", "canceled"]


@router.get("/{operation_id}/items")
async def list_items(
    operation_id: Id,
    who: Anyone,
    rt: Runtime,
    engine: Engine,
    status: ItemStatus | None = None,
    limit: Annotated[int, limit(1000)] = 100,
    offset: Offset = 0,
) -> list[BulkItemOut]:
    async with rt.database.transaction() as session:
        rows = await engine.items(session, who.tenant_id, operation_id, status=status, limit=limit, offset=offset)
    return [BulkItemOut.model_validate(dict(r)) for r in rows]


@router.get("/{operation_id}/report.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def report(
    operation_id: Id, who: Anyone, rt: Runtime, engine: Engine, status: ItemStatus | None = "failed"
) -> Response:
    """The items (by default the failed ones) as CSV: item, status, column, error, result."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["item", "status", "column", "error", "result"])
    async with rt.database.transaction() as session:
        offset = 0
        while True:
            rows = await engine.items(session, who.tenant_id, operation_id, status=status, limit=5000, offset=offset)
            for r in rows:
                writer.writerow([r["ref"], r["status"], r["column"] or "", r["error"] or "", r["result"] or ""])
            if len(rows) < 5000:
                break
            offset += 5000
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="bulk-{operation_id}.csv"'},
    )


@router.post("/{operation_id}/cancel")
async def cancel(operation_id: Id, who: Anyone, rt: Runtime, engine: Engine) -> BulkOperationOut:
    async with rt.database.transaction() as session:
        row = await engine.get(session, who.tenant_id, operation_id)
        _allowed(engine, who, row["kind"])
        done = await engine.cancel(session, who.tenant_id, operation_id)
        return BulkOperationOut.model_validate(progress_view(done))


@router.get(
    "/{operation_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def progress_stream(
    operation_id: Id,
    who: Anyone,
    rt: Runtime,
    engine: Engine,
    interval: Annotated[float, Query(ge=0.05, le=10)] = 0.5,
) -> StreamingResponse:
    """Server-sent events: a `progress` event whenever the counts or the state change, ending with the final state.

    Read from the database, so it follows the work of every replica.
    """
    async with rt.database.transaction() as session:
        await engine.get(session, who.tenant_id, operation_id)  # 404 before the stream starts

    async def stream() -> AsyncIterator[bytes]:
        last: dict[str, Any] | None = None
        while True:
            async with rt.database.transaction() as session:
                view = progress_view(await engine.get(session, who.tenant_id, operation_id))
            if view != last:
                last = view
                body = BulkOperationOut.model_validate(view).model_dump_json()
                yield f"event: progress\ndata: {body}\n\n".encode()
            if view["state"] in FINAL_STATES:
                return
            await asyncio.sleep(interval)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


__all__ = ["router"]
