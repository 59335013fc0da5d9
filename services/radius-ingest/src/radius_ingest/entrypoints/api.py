"""HTTP API: NAS client management (per tenant) and the open sessions support looks at."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.errors import NotFound
from bss_runtime.inputs import Offset, limit
from bss_runtime.service import ServiceRuntime
from radius_ingest.adapters import repository
from radius_ingest.entrypoints.schemas import NAS_ID_PATTERN, NasClientChange, NasClientIn, NasClientOut, OpenSessionOut
from radius_ingest.service_layer import nas_clients
from radius_ingest.service_layer.nas_clients import ClientSpec

router = APIRouter()
Manager = Annotated[Principal, Depends(require_roles(Role.OPS))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPS, Role.SUPPORT))]


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


@router.get("/nas-clients", response_model=list[NasClientOut], tags=["nas-clients"])
async def list_nas_clients(
    request: Request, principal: Reader, limit: Annotated[int, limit(200)] = 50, offset: Offset = 0
) -> list[NasClientOut]:
    """By nas_id."""
    async with _runtime(request).database.transaction() as session:
        rows = await repository.list_clients(session, principal.tenant_id, limit=limit, offset=offset)
    return [NasClientOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/nas-clients", response_model=NasClientOut, status_code=status.HTTP_201_CREATED, tags=["nas-clients"])
async def create_nas_client(request: Request, body: NasClientIn, principal: Manager) -> NasClientOut:
    spec = ClientSpec(body.nas_id, body.address, body.secret, body.description)
    async with _runtime(request).database.transaction() as session:
        await nas_clients.register(session, principal.tenant_id, spec)
        row = await repository.get_client(session, principal.tenant_id, body.nas_id)
    return NasClientOut.model_validate(row, from_attributes=True)


@router.get("/nas-clients/{nas_id}", response_model=NasClientOut, tags=["nas-clients"])
async def get_nas_client(request: Request, nas_id: str, principal: Reader) -> NasClientOut:
    async with _runtime(request).database.transaction() as session:
        row = await repository.get_client(session, principal.tenant_id, nas_id)
    if row is None:
        raise NotFound(f"no NAS client {nas_id!r}")
    return NasClientOut.model_validate(row, from_attributes=True)


@router.patch("/nas-clients/{nas_id}", response_model=NasClientOut, tags=["nas-clients"])
async def change_nas_client(request: Request, nas_id: str, body: NasClientChange, principal: Manager) -> NasClientOut:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    async with _runtime(request).database.transaction() as session:
        await nas_clients.change(session, principal.tenant_id, nas_id, changes)
        row = await repository.get_client(session, principal.tenant_id, nas_id)
    return NasClientOut.model_validate(row, from_attributes=True)


@router.delete("/nas-clients/{nas_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["nas-clients"])
async def delete_nas_client(request: Request, nas_id: str, principal: Manager) -> Response:
    async with _runtime(request).database.transaction() as session:
        await nas_clients.remove(session, principal.tenant_id, nas_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sessions/open", response_model=list[OpenSessionOut], tags=["sessions"])
async def list_open_sessions(
    request: Request,
    principal: Reader,
    nas_id: Annotated[str | None, Query(pattern=NAS_ID_PATTERN)] = None,
    limit: Annotated[int, limit(1000)] = 100,
    offset: Offset = 0,
) -> list[OpenSessionOut]:
    """Sessions with no Stop yet, as the tracker knows them: newest record first, a page at a time."""
    async with _runtime(request).database.transaction() as session:
        rows = await repository.open_sessions(session, principal.tenant_id, nas_id, limit=limit, offset=offset)
    return [OpenSessionOut.model_validate(row, from_attributes=True) for row in rows]
