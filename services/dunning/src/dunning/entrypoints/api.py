"""HTTP API: campaigns (collections/admin manage, finance/support read), executions, stats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.errors import NotFound
from bss_runtime.inputs import Id, Offset, limit
from dunning.adapters import repository as repo
from dunning.domain.execution import ExecutionStatus
from dunning.entrypoints.schemas import (
    ActionLogOut,
    BalanceChangeOut,
    CampaignCreate,
    CampaignOut,
    CampaignUpdate,
    CancelRequest,
    CurrencyTotals,
    DunningStats,
    ExecutionDetail,
    ExecutionOut,
    ExecutionPage,
    InvoiceOut,
)
from dunning.service_layer import campaigns as campaign_cases
from dunning.service_layer import settlement
from dunning.service_layer.deps import Deps

router = APIRouter(prefix="/dunning", tags=["dunning"])

Manager = Annotated[Principal, Depends(require_roles(Role.COLLECTIONS))]
Reader = Annotated[Principal, Depends(require_roles(Role.COLLECTIONS, Role.FINANCE, Role.SUPPORT))]


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.dunning
    return deps


Services = Annotated[Deps, Depends(_deps)]


async def _campaign_out(deps: Deps, tenant_id: str, campaign: repo.CampaignRecord) -> CampaignOut:
    async with deps.database.transaction() as session:
        stats = await repo.campaign_statistics(session, tenant_id, [campaign.id])
    return CampaignOut.of(campaign, stats.get(campaign.id))


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
async def create_campaign(body: CampaignCreate, who: Manager, deps: Services) -> CampaignOut:
    async with deps.database.transaction() as session:
        campaign = await campaign_cases.create_campaign(session, who.tenant_id, body)
    return CampaignOut.of(campaign, None)


@router.get("/campaigns")
async def list_campaigns(
    who: Reader,
    deps: Services,
    active: bool | None = None,
    limit: Annotated[int, limit(200)] = 50,
    offset: Offset = 0,
) -> list[CampaignOut]:
    """Highest priority first."""
    async with deps.database.transaction() as session:
        campaigns = await repo.list_campaigns(session, who.tenant_id, active=active, limit=limit, offset=offset)
        stats = await repo.campaign_statistics(session, who.tenant_id, [c.id for c in campaigns])
    return [CampaignOut.of(c, stats.get(c.id)) for c in campaigns]


@router.get("/campaigns/{campaign_id}")
async def get_campaign(campaign_id: str, who: Reader, deps: Services) -> CampaignOut:
    async with deps.database.transaction() as session:
        campaign = await repo.get_campaign(session, who.tenant_id, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return await _campaign_out(deps, who.tenant_id, campaign)


@router.patch("/campaigns/{campaign_id}")
async def update_campaign(campaign_id: str, body: CampaignUpdate, who: Manager, deps: Services) -> CampaignOut:
    async with deps.database.transaction() as session:
        campaign = await campaign_cases.update_campaign(
            session, who.tenant_id, campaign_id, body.model_dump(exclude_unset=True)
        )
    return await _campaign_out(deps, who.tenant_id, campaign)


@router.delete("/campaigns/{campaign_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_campaign(campaign_id: str, who: Manager, deps: Services) -> Response:
    async with deps.database.transaction() as session:
        await campaign_cases.delete_campaign(session, who.tenant_id, campaign_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/executions")
async def list_executions(
    who: Reader,
    deps: Services,
    status_: Annotated[ExecutionStatus | None, Query(alias="status")] = None,
    campaign_id: Id | None = None,
    customer_id: Id | None = None,
    invoice_id: Id | None = None,
    subscriber_id: Id | None = None,
    limit: Annotated[int, limit(500)] = 50,
    offset: Offset = 0,
) -> ExecutionPage:
    where = repo.ExecutionFilter(status_, campaign_id, customer_id, invoice_id, subscriber_id)
    async with deps.database.transaction() as session:
        items, total = await repo.list_executions(session, who.tenant_id, where, limit=limit, offset=offset)
    return ExecutionPage(items=[ExecutionOut.of(e) for e in items], total=total, limit=limit, offset=offset)


@router.get("/executions/{execution_id}")
async def get_execution(execution_id: str, who: Reader, deps: Services) -> ExecutionDetail:
    async with deps.database.transaction() as session:
        execution = await repo.get_execution(session, who.tenant_id, execution_id)
        if execution is None:
            raise NotFound(f"execution {execution_id} not found")
        logs = await repo.action_log(session, who.tenant_id, execution_id)
        changes = await repo.balance_history(session, who.tenant_id, execution_id)
    return ExecutionDetail(
        **ExecutionOut.of(execution).model_dump(),
        actions=execution.plan.actions,
        logs=[ActionLogOut.model_validate(dict(r._mapping)) for r in logs],
        balance_changes=[BalanceChangeOut.model_validate(dict(r._mapping)) for r in changes],
    )


@router.post("/executions/{execution_id}/cancel")
async def cancel_execution(execution_id: str, body: CancelRequest, who: Manager, deps: Services) -> ExecutionOut:
    async with deps.database.transaction() as session:
        execution = await settlement.cancel_execution(
            session, deps, who.tenant_id, execution_id, reason=body.reason, by=who.subject,
            reinstate=body.reinstate_subscriber,
        )  # fmt: skip
    return ExecutionOut.of(execution)


@router.get("/invoices/{invoice_id}")
async def get_invoice(invoice_id: str, who: Reader, deps: Services) -> InvoiceOut:
    async with deps.database.transaction() as session:
        invoice = await repo.get_invoice(session, who.tenant_id, invoice_id)
    if invoice is None:
        raise NotFound(f"dunning has not seen invoice {invoice_id} overdue")
    return InvoiceOut.model_validate(invoice, from_attributes=True)


@router.get("/stats")
async def stats(who: Reader, deps: Services) -> DunningStats:
    async with deps.database.transaction() as session:
        totals = await repo.totals(session, who.tenant_id)
        campaigns, active_campaigns = await repo.campaign_counts(session, who.tenant_id)
    count = totals.by_status.get
    return DunningStats(
        total_campaigns=campaigns, active_campaigns=active_campaigns,
        total_executions=sum(totals.by_status.values()),
        active_executions=count("pending", 0) + count("in_progress", 0),
        pending_executions=count("pending", 0), in_progress_executions=count("in_progress", 0),
        completed_executions=count("completed", 0), failed_executions=count("failed", 0),
        canceled_executions=count("canceled", 0),
        amounts=[
            CurrencyTotals(currency=c, initial_outstanding_minor=i, outstanding_minor=o, recovered_minor=r)
            for c, i, o, r in totals.per_currency
        ],
        average_recovery_rate=totals.average_recovery_rate,
        average_completion_time_hours=totals.average_completion_hours,
    )  # fmt: skip
