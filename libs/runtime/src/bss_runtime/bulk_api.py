"""The HTTP side of bulk operations that is the same in every service: follow, report, cancel, announce.

A service keeps its own submit routes (what its kinds take: ids, a filter, a file) and adds these to the same
router with `add_follow_routes(router, reader)`:

- `GET /{id}`: state, counts and progress (`progress_view`); 404 for an id of another tenant.
- `GET /{id}/items?status=failed`: each item with its reason (and the file column), paged.
- `GET /{id}/report.csv`: the same as CSV (failed items by default).
- `POST /{id}/cancel`: items not yet processed become `canceled`; only the kind's roles (and admin) may.
- `GET /{id}/events`: server-sent `progress` events whenever the counts or the state change, until it ends.

The engine is `request.app.state.bulk`, the database the runtime's (`request.app.state.runtime`).
`announcer(EventType)` is the engine's `on_complete` writing the service's own `BulkOperationCompleted`.
"""

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import status as http
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.bulk import BulkOperationOutcome
from bss_runtime.auth import Principal
from bss_runtime.bulk import FINAL_STATES, BulkEngine, OnComplete, progress_view
from bss_runtime.inputs import Id, Offset, limit
from bss_runtime.outbox import EventWriter
from bss_runtime.service import ServiceRuntime

ItemStatus = Literal["pending", "succeeded", "failed", "canceled"]


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _engine(request: Request) -> BulkEngine:
    engine: BulkEngine = request.app.state.bulk
    return engine


Runtime = Annotated[ServiceRuntime, Depends(_runtime)]
Engine = Annotated[BulkEngine, Depends(_engine)]


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
    status: ItemStatus
    error: str | None
    column: str | None
    result: str | None


def check_allowed(engine: BulkEngine, who: Principal, kind: str) -> None:
    """403 unless `who` has one of the kind's roles (or admin); 422 naming `kind` for an unknown one."""
    spec = engine.kind(kind)
    if not who.has_any(spec.roles):
        raise HTTPException(
            http.HTTP_403_FORBIDDEN, f"{kind} requires one of the roles: admin, {', '.join(spec.roles)}"
        )


async def operation_out(session: AsyncSession, engine: BulkEngine, tenant_id: str, op_id: str) -> BulkOperationOut:
    return BulkOperationOut.model_validate(progress_view(await engine.get(session, tenant_id, op_id)))


def announcer(event_type: type[BulkOperationOutcome]) -> OnComplete:
    """The engine's on_complete: the service's `BulkOperationCompleted`, in the transaction that ends it."""

    async def announce(session: AsyncSession, events: EventWriter, row: Mapping[str, Any]) -> None:
        await events.add(
            session,
            event_type(
                operation_id=row["id"], kind=row["kind"], state=row["state"], total=row["total"],
                succeeded=row["succeeded"], failed=row["failed"], canceled=row["canceled"],
                requested_by=row["requested_by"], finished_at=row["finished_at"],
            ),
            tenant_id=row["tenant_id"],
        )  # fmt: skip

    return announce


def add_follow_routes(router: APIRouter, readers: Callable[..., Awaitable[Principal]]) -> None:
    """Add the follow / report / cancel / SSE routes to `router`; `readers` is the dependency that lets in who
    may follow an operation (`require_roles(...)`)."""
    # Annotations are evaluated here (no `from __future__ import annotations` in this module): FastAPI reads
    # this local alias from the signatures.
    Reader = Annotated[Principal, Depends(readers)]

    @router.get("/{operation_id}")
    async def get_operation(operation_id: Id, who: Reader, rt: Runtime, engine: Engine) -> BulkOperationOut:
        async with rt.database.transaction() as session:
            return await operation_out(session, engine, who.tenant_id, operation_id)

    @router.get("/{operation_id}/items")
    async def list_items(
        operation_id: Id,
        who: Reader,
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
        operation_id: Id, who: Reader, rt: Runtime, engine: Engine, status: ItemStatus | None = "failed"
    ) -> Response:
        """The items (by default the failed ones) as CSV: item, status, column, error, result."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["item", "status", "column", "error", "result"])
        async with rt.database.transaction() as session:
            offset = 0
            while True:
                rows = await engine.items(
                    session, who.tenant_id, operation_id, status=status, limit=5000, offset=offset
                )
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
    async def cancel(operation_id: Id, who: Reader, rt: Runtime, engine: Engine) -> BulkOperationOut:
        async with rt.database.transaction() as session:
            row = await engine.get(session, who.tenant_id, operation_id)
            check_allowed(engine, who, row["kind"])
            return BulkOperationOut.model_validate(
                progress_view(await engine.cancel(session, who.tenant_id, operation_id))
            )

    @router.get(
        "/{operation_id}/events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def progress_stream(
        operation_id: Id,
        who: Reader,
        rt: Runtime,
        engine: Engine,
        interval: Annotated[float, Query(ge=0.05, le=10)] = 0.5,
    ) -> StreamingResponse:
        """Server-sent events: a `progress` event whenever the counts or the state change, ending with the final
        state. Read from the database, so it follows the work of every replica."""
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
