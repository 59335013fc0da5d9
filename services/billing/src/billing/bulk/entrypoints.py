"""HTTP API of billing's bulk operations, under /billing/bulk-operations: submit (ids, a filter or a list of
credit notes), follow (state, items, CSV report, SSE), cancel.

Who may submit (and cancel) a kind: admin and finance; finance, collections, support and machine clients may
follow. The follow routes are the shared ones (`bss_runtime.bulk_api`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi import status as http
from pydantic import BaseModel, Field

from billing.bulk import adapters
from billing.bulk.service_layer import CHANGE_PLAN, ISSUE_CREDIT_NOTES, VOID_DRAFTS
from billing.entrypoints.schemas import CreditNoteCreate
from bss_contracts.money import Currency
from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.bulk import BulkSettings
from bss_runtime.bulk_api import BulkOperationOut, Engine, Runtime, add_follow_routes, check_allowed, operation_out
from bss_runtime.errors import RuleViolation
from bss_runtime.inputs import Day, Id, Text

READERS = (Role.FINANCE, Role.COLLECTIONS, Role.SUPPORT, Role.SERVICE)
Anyone = Annotated[Principal, Depends(require_roles(*READERS))]
MAX_ITEMS = 200_000

router = APIRouter(prefix="/billing/bulk-operations", tags=["bulk operations"])


class BillingFilter(BaseModel):
    plan_id: Id | None = Field(default=None, description="subscriptions.* and usage.reset: the current plan")
    customer_id: Id | None = None
    currency: Currency | None = Field(default=None, description="invoices.void_drafts: the drafts' currency")


class BulkRequest(BaseModel):
    kind: Annotated[str, Text(64)] = Field(examples=[CHANGE_PLAN])
    ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_ITEMS)] | None = Field(
        default=None, description="subscription ids (change_plan, usage.reset) or invoice ids (void_drafts)"
    )
    filter: BillingFilter | None = Field(
        default=None, description="active subscriptions (change_plan, usage.reset) or draft invoices (void_drafts)"
    )
    plan_id: Id | None = Field(default=None, description="subscriptions.change_plan: the new plan")
    effective: Literal["now", "period_end"] | None = Field(
        default=None, description="subscriptions.change_plan: as the single change (default by upgrade/downgrade)"
    )
    reason: Annotated[str, Text(500)] | None = Field(default=None, description="invoices.void_drafts: why")
    period_start: Day | None = Field(default=None, description="usage.reset: the open cycle's start, to be sure")
    credit_notes: Annotated[list[CreditNoteCreate], Field(min_length=1, max_length=MAX_ITEMS)] | None = Field(
        default=None, description="credit_notes.issue: the notes to issue, each as POST /billing/credit-notes"
    )


def _check(body: BulkRequest) -> None:
    """What each kind needs, as 422s naming the field."""
    if body.kind == ISSUE_CREDIT_NOTES:
        if body.credit_notes is None:
            raise RuleViolation(f"{ISSUE_CREDIT_NOTES} takes a list of credit notes", field="credit_notes")
        if body.ids is not None or body.filter is not None:
            raise RuleViolation(f"{ISSUE_CREDIT_NOTES} takes credit_notes, not ids or a filter", field="ids")
        return
    if body.credit_notes is not None:
        raise RuleViolation(f"{body.kind} does not take credit_notes", field="credit_notes")
    if (body.ids is None) == (body.filter is None):
        raise RuleViolation("give either ids or a filter", field="ids")
    if body.kind == CHANGE_PLAN and body.plan_id is None:
        raise RuleViolation(f"{CHANGE_PLAN} needs the new plan_id", field="plan_id")
    if body.kind == VOID_DRAFTS and body.reason is None:
        raise RuleViolation(f"{VOID_DRAFTS} needs a reason", field="reason")


@router.post("", status_code=http.HTTP_202_ACCEPTED)
async def submit(body: BulkRequest, who: Anyone, rt: Runtime, engine: Engine) -> BulkOperationOut:
    """A kind over ids, a filter, or (credit_notes.issue) a list; 202, then per-item results."""
    check_allowed(engine, who, body.kind)
    _check(body)
    settings: BulkSettings = rt.settings  # type: ignore[assignment]
    params: dict[str, Any] = {
        k: v
        for k, v in {
            "plan_id": body.plan_id, "effective": body.effective, "reason": body.reason,
            "period_start": body.period_start.isoformat() if body.period_start else None,
        }.items()
        if v is not None
    }  # fmt: skip
    async with rt.database.transaction() as session:
        items: list[tuple[str, dict[str, Any]]]
        if body.credit_notes is not None:
            items = [
                (note.invoice_id or note.customer_id or "", note.model_dump(mode="json")) for note in body.credit_notes
            ]
        elif body.filter is not None:
            f = body.filter
            params["filter"] = f.model_dump(exclude_none=True)
            if body.kind == VOID_DRAFTS:
                ids = await adapters.draft_invoice_ids(
                    session, who.tenant_id, customer_id=f.customer_id, currency=f.currency,
                    limit=settings.bulk_max_items,
                )  # fmt: skip
            else:
                ids = await adapters.active_subscription_ids(
                    session, who.tenant_id, plan_id=f.plan_id, customer_id=f.customer_id,
                    limit=settings.bulk_max_items,
                )  # fmt: skip
            if not ids:
                raise RuleViolation("the filter selects nothing", field="filter")
            items = [(i, {}) for i in ids]
        else:
            assert body.ids is not None
            items = [(i, {}) for i in dict.fromkeys(body.ids)]
        op_id = await engine.submit(session, who.tenant_id, body.kind, items, params=params, requested_by=who.subject)
        return await operation_out(session, engine, who.tenant_id, op_id)


add_follow_routes(router, require_roles(*READERS))

__all__ = ["router"]
