"""What every route needs: the use cases' dependencies and who may call.

finance (and admin) write invoices, payments, credit notes, plans and SLA contracts; ops and machine clients
(service) report outages; finance, collections and support read; the schedulers' triggers are for ops,
finance and service.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from billing.service_layer.deps import Deps
from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.inputs import limit


async def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.billing
    return deps


BillingDeps = Annotated[Deps, Depends(_deps)]

Finance = Annotated[Principal, Depends(require_roles(Role.FINANCE))]
Reader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.COLLECTIONS, Role.SUPPORT, Role.SERVICE))]
SlaReader = Annotated[
    Principal, Depends(require_roles(Role.FINANCE, Role.COLLECTIONS, Role.SUPPORT, Role.OPS, Role.SERVICE))
]
OutageReporter = Annotated[Principal, Depends(require_roles(Role.OPS, Role.SERVICE))]
BreachResolver = Annotated[Principal, Depends(require_roles(Role.OPS, Role.FINANCE))]
Operator = Annotated[Principal, Depends(require_roles(Role.OPS, Role.FINANCE, Role.SERVICE))]

Limit = Annotated[int, limit(200)]
