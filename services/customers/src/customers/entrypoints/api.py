"""HTTP API: customers, partners and subscribers of the caller's tenant.

admin, support and ops may write; finance, collections and machine clients (service) may read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import status as http
from sqlalchemy import Row

from bss_contracts.events.customers import ConnectionType, CustomerState, InstallationStatus, SubscriberStatus
from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.errors import Conflict
from bss_runtime.inputs import Id, Offset, Text, limit
from bss_runtime.service import ServiceRuntime
from customers.adapters import repository as repo
from customers.domain.lifecycle import Action, Outcome
from customers.entrypoints.schemas import (
    CountryCode,
    CustomerCreate,
    CustomerPage,
    CustomerUpdate,
    PartnerIn,
    PartnerOut,
    StatusChangeIn,
    StatusChangeOut,
    SubscriberCreate,
    SubscriberOut,
    SubscriberPage,
    SubscriberRequestOut,
)
from customers.service_layer import customers as customer_cases
from customers.service_layer import partners as partner_cases
from customers.service_layer import subscribers as subscriber_cases

Writer = Annotated[Principal, Depends(require_roles(Role.SUPPORT, Role.OPS))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.SUPPORT, Role.OPS, Role.FINANCE, Role.COLLECTIONS, Role.SERVICE))
]
Limit = Annotated[int, limit(200)]
Search = Annotated[str, Text(200)]


async def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ServiceRuntime, Depends(_runtime)]


# --- customers ------------------------------------------------------------------------------------------------

customers_router = APIRouter(prefix="/customers", tags=["customers"])


@customers_router.post("", status_code=http.HTTP_201_CREATED)
async def create_customer(body: CustomerCreate, who: Writer, rt: Runtime) -> CustomerState:
    async with rt.database.transaction() as session:
        return await customer_cases.create_customer(session, rt.events, who.tenant_id, body.model_dump())


@customers_router.get("")
async def list_customers(
    who: Reader,
    rt: Runtime,
    installation_status: InstallationStatus | None = None,
    connection_type: ConnectionType | None = None,
    service_city: Annotated[Search | None, Query(description="Case-insensitive")] = None,
    service_state_province: Annotated[Search | None, Query(description="Case-insensitive")] = None,
    service_country: Annotated[CountryCode | None, Query(description="ISO 3166-1 alpha-2")] = None,
    partner_id: Id | None = None,
    region: Search | None = None,
    tag: Search | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> CustomerPage:
    where = repo.CustomerFilter(
        installation_status=installation_status, connection_type=connection_type, service_city=service_city,
        service_state_province=service_state_province,
        service_country=service_country,
        partner_id=partner_id, region=region, tag=tag,
    )  # fmt: skip
    async with rt.database.transaction() as session:
        rows, total = await repo.list_customers(session, who.tenant_id, where, limit=limit, offset=offset)
    return CustomerPage(items=[repo.customer_state(r) for r in rows], total=total, limit=limit, offset=offset)


@customers_router.get("/{customer_id}")
async def get_customer(customer_id: str, who: Reader, rt: Runtime) -> CustomerState:
    async with rt.database.transaction() as session:
        return await customer_cases.get_customer(session, who.tenant_id, customer_id)


@customers_router.patch("/{customer_id}")
async def update_customer(customer_id: str, body: CustomerUpdate, who: Writer, rt: Runtime) -> CustomerState:
    values = body.model_dump(exclude_unset=True)
    async with rt.database.transaction() as session:
        return await customer_cases.update_customer(session, rt.events, who.tenant_id, customer_id, values)


@customers_router.post("/{customer_id}/subscribers", status_code=http.HTTP_201_CREATED)
async def create_subscriber(customer_id: str, body: SubscriberCreate, who: Writer, rt: Runtime) -> SubscriberOut:
    async with rt.database.transaction() as session:
        row = await subscriber_cases.create_subscriber(
            session, rt.events, who.tenant_id, customer_id, username=body.username, plan_id=body.plan_id
        )
    return _subscriber_out(row)


@customers_router.get("/{customer_id}/subscribers")
async def customer_subscribers(
    customer_id: str, who: Reader, rt: Runtime, limit: Limit = 50, offset: Offset = 0
) -> SubscriberPage:
    async with rt.database.transaction() as session:
        await customer_cases.get_customer(session, who.tenant_id, customer_id)  # 404 for an unknown customer
        rows, total = await repo.list_subscribers(
            session, who.tenant_id, customer_id=customer_id, limit=limit, offset=offset
        )
    return SubscriberPage(items=[_subscriber_out(r) for r in rows], total=total, limit=limit, offset=offset)


# --- partners -------------------------------------------------------------------------------------------------

partners_router = APIRouter(prefix="/partners", tags=["partners"])


def _partner_out(row: Row[Any]) -> PartnerOut:
    return PartnerOut(partner_id=row.id, name=row.name, created_at=row.created_at, updated_at=row.updated_at)


@partners_router.post("", status_code=http.HTTP_201_CREATED)
async def create_partner(body: PartnerIn, who: Writer, rt: Runtime) -> PartnerOut:
    async with rt.database.transaction() as session:
        return _partner_out(await partner_cases.create_partner(session, rt.events, who.tenant_id, body.name))


@partners_router.get("")
async def list_partners(who: Reader, rt: Runtime, limit: Limit = 50, offset: Offset = 0) -> list[PartnerOut]:
    """By name."""
    async with rt.database.transaction() as session:
        return [_partner_out(r) for r in await repo.list_partners(session, who.tenant_id, limit=limit, offset=offset)]


@partners_router.get("/{partner_id}")
async def get_partner(partner_id: str, who: Reader, rt: Runtime) -> PartnerOut:
    async with rt.database.transaction() as session:
        return _partner_out(await partner_cases.get_partner(session, who.tenant_id, partner_id))


@partners_router.patch("/{partner_id}")
async def rename_partner(partner_id: str, body: PartnerIn, who: Writer, rt: Runtime) -> PartnerOut:
    async with rt.database.transaction() as session:
        return _partner_out(
            await partner_cases.rename_partner(session, rt.events, who.tenant_id, partner_id, body.name)
        )


@partners_router.delete("/{partner_id}", status_code=http.HTTP_204_NO_CONTENT)
async def delete_partner(partner_id: str, who: Writer, rt: Runtime) -> Response:
    async with rt.database.transaction() as session:
        await partner_cases.delete_partner(session, who.tenant_id, partner_id)
    return Response(status_code=http.HTTP_204_NO_CONTENT)


# --- subscribers ----------------------------------------------------------------------------------------------

subscribers_router = APIRouter(prefix="/subscribers", tags=["subscribers"])


def _subscriber_out(row: Row[Any]) -> SubscriberOut:
    return SubscriberOut(
        subscriber_id=row.id, customer_id=row.customer_id, username=row.username, plan_id=row.plan_id,
        status=row.status, status_reason=row.status_reason, status_changed_at=row.status_changed_at,
        created_at=row.created_at,
    )  # fmt: skip


@subscribers_router.get("")
async def list_subscribers(
    who: Reader,
    rt: Runtime,
    status: SubscriberStatus | None = None,
    username: Annotated[str, Text(253)] | None = None,
    customer_id: Id | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> SubscriberPage:
    async with rt.database.transaction() as session:
        rows, total = await repo.list_subscribers(
            session, who.tenant_id, customer_id=customer_id, status=status, username=username,
            limit=limit, offset=offset,
        )  # fmt: skip
    return SubscriberPage(items=[_subscriber_out(r) for r in rows], total=total, limit=limit, offset=offset)


@subscribers_router.get("/{subscriber_id}")
async def get_subscriber(subscriber_id: str, who: Reader, rt: Runtime) -> SubscriberOut:
    async with rt.database.transaction() as session:
        return _subscriber_out(await subscriber_cases.get_subscriber(session, who.tenant_id, subscriber_id))


@subscribers_router.get("/{subscriber_id}/history")
async def subscriber_history(
    subscriber_id: str, who: Reader, rt: Runtime, limit: Limit = 50, offset: Offset = 0
) -> list[StatusChangeOut]:
    """Every status change, oldest first: when, from what to what, why, and who or which event asked."""
    async with rt.database.transaction() as session:
        await subscriber_cases.get_subscriber(session, who.tenant_id, subscriber_id)
        rows = await repo.status_history(session, who.tenant_id, subscriber_id, limit=limit, offset=offset)
    return [StatusChangeOut.model_validate(r, from_attributes=True) for r in rows]


@subscribers_router.get("/{subscriber_id}/requests")
async def subscriber_requests(
    subscriber_id: str, who: Reader, rt: Runtime, limit: Limit = 50, offset: Offset = 0
) -> list[SubscriberRequestOut]:
    """Requests other services sent about this subscriber (by event), oldest first, with what came of each."""
    async with rt.database.transaction() as session:
        rows = await repo.requests_for(session, who.tenant_id, subscriber_id, limit=limit, offset=offset)
    return [SubscriberRequestOut.model_validate(r, from_attributes=True) for r in rows]


async def _change(
    rt: ServiceRuntime, who: Principal, subscriber_id: str, action: Action, body: StatusChangeIn | None
) -> SubscriberOut:
    """Apply `action`; repeating a change already made answers 200 (idempotent), an impossible one 409."""
    async with rt.database.transaction() as session:
        decision, row = await subscriber_cases.change_status(
            session, rt.events, who.tenant_id, subscriber_id, action,
            reason=body.reason if body else None, requested_by=who.subject,
        )  # fmt: skip
    if decision.outcome is Outcome.REJECTED:
        raise Conflict(decision.reason or "transition not allowed")
    return _subscriber_out(row)


@subscribers_router.post("/{subscriber_id}/activate")
async def activate(subscriber_id: str, who: Writer, rt: Runtime, body: StatusChangeIn | None = None) -> SubscriberOut:
    return await _change(rt, who, subscriber_id, Action.ACTIVATE, body)


@subscribers_router.post("/{subscriber_id}/suspend")
async def suspend(subscriber_id: str, who: Writer, rt: Runtime, body: StatusChangeIn | None = None) -> SubscriberOut:
    return await _change(rt, who, subscriber_id, Action.SUSPEND, body)


@subscribers_router.post("/{subscriber_id}/reinstate")
async def reinstate(subscriber_id: str, who: Writer, rt: Runtime, body: StatusChangeIn | None = None) -> SubscriberOut:
    return await _change(rt, who, subscriber_id, Action.REINSTATE, body)


@subscribers_router.post("/{subscriber_id}/terminate")
async def terminate(subscriber_id: str, who: Writer, rt: Runtime, body: StatusChangeIn | None = None) -> SubscriberOut:
    return await _change(rt, who, subscriber_id, Action.TERMINATE, body)


routers = (customers_router, partners_router, subscribers_router)
