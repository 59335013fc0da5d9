"""The dunning service's bulk kind, run by the shared engine (`bss_runtime.bulk`) one chunk at a time.

- `executions.cancel` (execution ids or a filter; `reason`, `reinstate_subscriber`): each execution through
  `settlement.cancel_execution`, exactly as `POST /dunning/executions/{id}/cancel`: `DunningCanceled`, and with
  `reinstate_subscriber` the reinstatement requests of what it suspended. Each item runs in a savepoint: one
  that is already over (or unknown) is a failed item with the reason, the others are canceled. Roles: admin and
  collections.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.dunning import BulkOperationCompleted
from bss_runtime.auth import Role
from bss_runtime.bulk import BulkEngine, Handler, Item, ItemResult, Kind, Operation
from bss_runtime.bulk_api import announcer
from bss_runtime.errors import DomainError
from bss_runtime.outbox import EventWriter
from dunning.service_layer import settlement
from dunning.service_layer.deps import Deps

CANCEL = "executions.cancel"
ROLES = (Role.COLLECTIONS,)

announce = announcer(BulkOperationCompleted)


def cancel_executions(deps: Deps) -> Handler:
    async def handle(
        session: AsyncSession, events: EventWriter, op: Operation, items: Sequence[Item]
    ) -> list[ItemResult]:
        reason, reinstate = str(op.params["reason"]), bool(op.params.get("reinstate_subscriber", False))
        out: list[ItemResult] = []
        for item in items:
            try:
                async with session.begin_nested():
                    canceled = await settlement.cancel_execution(
                        session, deps, op.tenant_id, item.ref, reason=reason, by=op.requested_by, reinstate=reinstate
                    )
            except DomainError as exc:
                out.append(ItemResult(error=str(exc), column=exc.field))
                continue
            out.append(ItemResult(result=canceled.status))
        return out

    return handle


def register(engine: BulkEngine, deps: Deps) -> None:
    engine.register(Kind(CANCEL, cancel_executions(deps), roles=ROLES, description="Cancel dunning executions"))
