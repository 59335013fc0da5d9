"""HTTP API of bulk operations: submit (ids, a filter, or a CSV file), follow (state, items, report, SSE), cancel.

Who may submit a kind: admin and the kind's owning role (see `service_layer.register`); any reader may follow.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import status as http
from pydantic import BaseModel, Field

from bss_contracts.events.customers import SubscriberStatus
from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.bulk import BulkSettings
from bss_runtime.bulk_api import BulkOperationOut, Engine, Runtime, add_follow_routes, check_allowed, operation_out
from bss_runtime.errors import RuleViolation
from bss_runtime.inputs import Id, Text
from customers.bulk import adapters
from customers.bulk.domain import FileRefused, read_csv, read_xlsx
from customers.bulk.service_layer import IMPORT, TAG

READERS = (Role.SUPPORT, Role.OPS, Role.FINANCE, Role.COLLECTIONS, Role.SERVICE)
Anyone = Annotated[Principal, Depends(require_roles(*READERS))]

router = APIRouter(prefix="/bulk-operations", tags=["bulk operations"])

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_UNZIPPED_FACTOR = 10  # a workbook may unpack to this many times the upload limit, no more (zip bombs)


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


@router.post("", status_code=http.HTTP_202_ACCEPTED)
async def submit(body: BulkRequest, who: Anyone, rt: Runtime, engine: Engine) -> BulkOperationOut:
    """A kind over an id list or (subscribers.*) a filter; customers.import takes a file (`POST /imports`)."""
    check_allowed(engine, who, body.kind)
    if body.kind == IMPORT:
        raise RuleViolation("customers.import takes a file: POST /bulk-operations/imports", field="kind")
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
        return await operation_out(session, engine, who.tenant_id, op_id)


@router.post(
    "/imports",
    status_code=http.HTTP_202_ACCEPTED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    responses={413: {"description": "The file is over BULK_MAX_UPLOAD_BYTES"}},
)
async def submit_import(request: Request, who: Anyone, rt: Runtime, engine: Engine) -> BulkOperationOut:
    """customers.import: the request body is the file, CSV (`text/csv`) or XLSX (its first sheet; `Content-Type:
    application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`), the same columns (see the README);
    202, then per-row results."""
    check_allowed(engine, who, IMPORT)
    settings: BulkSettings = rt.settings  # type: ignore[assignment]
    data = bytearray()
    async for part in request.stream():
        data.extend(part)
        if len(data) > settings.bulk_max_upload_bytes:
            raise HTTPException(
                http.HTTP_413_CONTENT_TOO_LARGE,
                f"the file is over the limit of {settings.bulk_max_upload_bytes} bytes",
            )
    xlsx = request.headers.get("content-type", "").split(";")[0].strip().lower() == XLSX_TYPE
    try:
        if xlsx:
            rows = read_xlsx(bytes(data), max_unzipped_bytes=XLSX_UNZIPPED_FACTOR * settings.bulk_max_upload_bytes)
        elif data.startswith(b"PK\x03\x04"):
            raise FileRefused(f"the file is a zip archive (an XLSX workbook?): send a workbook as {XLSX_TYPE}")
        else:
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
        return await operation_out(session, engine, who.tenant_id, op_id)


add_follow_routes(router, require_roles(*READERS))

__all__ = ["router"]
