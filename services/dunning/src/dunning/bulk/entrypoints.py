"""HTTP API of dunning's bulk operations, under /dunning/bulk-operations: submit (ids or a filter), follow
(state, items, CSV report, SSE), cancel.

Who may submit (and cancel) `executions.cancel`: admin and collections; collections, finance and support may
follow. The follow routes are the shared ones (`bss_runtime.bulk_api`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import status as http
from pydantic import BaseModel, ConfigDict, Field

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.bulk import BulkSettings
from bss_runtime.bulk_api import BulkOperationOut, Engine, Runtime, add_follow_routes, check_allowed, operation_out
from bss_runtime.errors import RuleViolation
from bss_runtime.inputs import Id, Text, Timestamp
from dunning.bulk import adapters
from dunning.bulk.service_layer import CANCEL

READERS = (Role.COLLECTIONS, Role.FINANCE, Role.SUPPORT)
Anyone = Annotated[Principal, Depends(require_roles(*READERS))]

router = APIRouter(prefix="/dunning/bulk-operations", tags=["bulk operations"])


class ExecutionSelection(BaseModel):
    """Pending and in-progress executions only (the others are over)."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: Id | None = None
    customer_id: Id | None = None
    subscriber_id: Id | None = None
    started_before: Timestamp | None = None


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Annotated[str, Text(64)] = Field(examples=[CANCEL])
    ids: Annotated[list[Id], Field(min_length=1, max_length=200_000)] | None = None
    filter: ExecutionSelection | None = None
    reason: Annotated[str, Text(1000)] | None = Field(default=None, description="executions.cancel: why")
    reinstate_subscriber: bool = Field(default=False, description="Also ask to reinstate what each suspended")


@router.post("", status_code=http.HTTP_202_ACCEPTED)
async def submit(body: BulkRequest, who: Anyone, rt: Runtime, engine: Engine) -> BulkOperationOut:
    """A kind over execution ids or a filter; 202, then per-item results."""
    check_allowed(engine, who, body.kind)
    if (body.ids is None) == (body.filter is None):
        raise RuleViolation("give either ids or a filter", field="ids")
    if body.kind == CANCEL and body.reason is None:
        raise RuleViolation(f"{CANCEL} needs a reason", field="reason")
    settings: BulkSettings = rt.settings  # type: ignore[assignment]
    params: dict[str, Any] = {"reason": body.reason, "reinstate_subscriber": body.reinstate_subscriber}
    async with rt.database.transaction() as session:
        if body.filter is not None:
            f = body.filter
            ids = await adapters.active_execution_ids(
                session, who.tenant_id, campaign_id=f.campaign_id, customer_id=f.customer_id,
                subscriber_id=f.subscriber_id, started_before=f.started_before, limit=settings.bulk_max_items,
            )  # fmt: skip
            if not ids:
                raise RuleViolation("the filter selects no active execution", field="filter")
            params["filter"] = f.model_dump(mode="json", exclude_none=True)
        else:
            assert body.ids is not None
            ids = list(dict.fromkeys(body.ids))
        op_id = await engine.submit(
            session, who.tenant_id, body.kind, [(i, {}) for i in ids], params=params, requested_by=who.subject
        )
        return await operation_out(session, engine, who.tenant_id, op_id)


add_follow_routes(router, require_roles(*READERS))

__all__ = ["router"]
