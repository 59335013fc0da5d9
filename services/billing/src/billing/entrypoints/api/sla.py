"""SLA definitions, instances, outages (reported by monitoring), breaches and their resolution."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi import status as http

from billing.adapters import sla_repo as repo
from billing.entrypoints.api.common import (
    BillingDeps,
    BreachResolver,
    Finance,
    Limit,
    Operator,
    OutageReporter,
    SlaReader,
)
from billing.entrypoints.schemas import (
    BreachOut,
    DefinitionCreate,
    DefinitionOut,
    InstanceCreate,
    InstanceOut,
    OutageCreate,
    OutageEnd,
    OutageOut,
    PeriodStatus,
    ResolveIn,
    TriggerOut,
)
from billing.service_layer import sla as cases
from bss_runtime.errors import NotFound
from bss_runtime.inputs import Id, Offset

router = APIRouter(prefix="/billing/sla", tags=["SLA"])


@router.post("/definitions", status_code=http.HTTP_201_CREATED)
async def create_definition(body: DefinitionCreate, who: Finance, deps: BillingDeps) -> DefinitionOut:
    async with deps.database.transaction() as session:
        row = await cases.create_definition(session, who.tenant_id, cases.DefinitionIn(**body.model_dump()))
    return DefinitionOut.model_validate(row)


@router.get("/definitions")
async def list_definitions(
    who: SlaReader, deps: BillingDeps, limit: Limit = 50, offset: Offset = 0
) -> list[DefinitionOut]:
    """By name."""
    async with deps.database.transaction() as session:
        rows = await repo.list_definitions(session, who.tenant_id, limit=limit, offset=offset)
    return [DefinitionOut.model_validate(d) for d in rows]


@router.get("/definitions/{definition_id}")
async def get_definition(definition_id: str, who: SlaReader, deps: BillingDeps) -> DefinitionOut:
    async with deps.database.transaction() as session:
        return DefinitionOut.model_validate(await cases.get_definition(session, who.tenant_id, definition_id))


@router.post("/instances", status_code=http.HTTP_201_CREATED)
async def create_instance(body: InstanceCreate, who: Finance, deps: BillingDeps) -> InstanceOut:
    async with deps.database.transaction() as session:
        row = await cases.create_instance(session, deps, who.tenant_id, cases.InstanceIn(**body.model_dump()))
    return InstanceOut.model_validate(row)


@router.get("/instances")
async def list_instances(
    who: SlaReader, deps: BillingDeps, customer_id: Id | None = None, limit: Limit = 50, offset: Offset = 0
) -> list[InstanceOut]:
    """Oldest first."""
    async with deps.database.transaction() as session:
        rows = await repo.list_instances(session, who.tenant_id, customer_id, limit=limit, offset=offset)
    return [InstanceOut.model_validate(i) for i in rows]


@router.get("/instances/{instance_id}")
async def get_instance(instance_id: str, who: SlaReader, deps: BillingDeps) -> InstanceOut:
    """The instance with its current period's availability so far."""
    async with deps.database.transaction() as session:
        instance = await cases.get_instance(session, who.tenant_id, instance_id)
        status = PeriodStatus(**await cases.period_status(session, deps, instance))
    return InstanceOut.model_validate(instance).model_copy(update={"current_period": status})


@router.post("/instances/{instance_id}/outages", status_code=http.HTTP_201_CREATED)
async def report_outage(
    instance_id: str, body: OutageCreate, who: OutageReporter, deps: BillingDeps, response: Response
) -> OutageOut:
    """From monitoring: start (and end, when known). The affected periods are evaluated at once. Reporting a
    known external_id again answers 200; with an end it ends that outage."""
    async with deps.database.transaction() as session:
        outage, created = await cases.report_outage(
            session, deps, who.tenant_id, instance_id, cases.OutageIn(**body.model_dump()), reported_by=who.subject
        )
    if not created:
        response.status_code = http.HTTP_200_OK
    return OutageOut.model_validate(outage)


@router.get("/instances/{instance_id}/outages")
async def list_outages(
    instance_id: str, who: SlaReader, deps: BillingDeps, limit: Limit = 50, offset: Offset = 0
) -> list[OutageOut]:
    """By start, oldest first."""
    async with deps.database.transaction() as session:
        await cases.get_instance(session, who.tenant_id, instance_id)
        rows = await repo.outages_of(session, who.tenant_id, instance_id, limit=limit, offset=offset)
    return [OutageOut.model_validate(o) for o in rows]


@router.post("/outages/{outage_id}/end")
async def end_outage(outage_id: str, body: OutageEnd, who: OutageReporter, deps: BillingDeps) -> OutageOut:
    async with deps.database.transaction() as session:
        return OutageOut.model_validate(await cases.end_outage(session, deps, who.tenant_id, outage_id, body.ended_at))


@router.get("/breaches")
async def list_breaches(
    who: SlaReader,
    deps: BillingDeps,
    instance_id: Id | None = None,
    customer_id: Id | None = None,
    status: Literal["open", "resolved"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[BreachOut]:
    """Oldest first."""
    async with deps.database.transaction() as session:
        rows = await repo.list_breaches(
            session,
            who.tenant_id,
            instance_id=instance_id,
            customer_id=customer_id,
            status=status,
            limit=limit,
            offset=offset,
        )
    return [BreachOut.of(r) for r in rows]


@router.get("/breaches/{breach_id}")
async def get_breach(breach_id: str, who: SlaReader, deps: BillingDeps) -> BreachOut:
    async with deps.database.transaction() as session:
        breach = await repo.get_breach(session, who.tenant_id, breach_id)
    if breach is None:
        raise NotFound(f"SLA breach {breach_id} not found")
    return BreachOut.of(breach)


@router.post("/breaches/{breach_id}/resolve")
async def resolve_breach(breach_id: str, body: ResolveIn, who: BreachResolver, deps: BillingDeps) -> BreachOut:
    async with deps.database.transaction() as session:
        return BreachOut.of(await cases.resolve_breach(session, deps, who.tenant_id, breach_id, body.resolution))


@router.post("/evaluate")
async def evaluate(who: Operator, deps: BillingDeps) -> TriggerOut:
    """Evaluate the caller's tenant's ended periods and ongoing outages (what the scheduler does)."""
    done = await cases.finalize_due(deps, tenant_id=who.tenant_id)
    return TriggerOut(processed=done + await cases.watch_ongoing(deps, tenant_id=who.tenant_id))
