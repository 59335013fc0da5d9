"""The customers service's bulk kinds, run by the shared engine (`bss_runtime.bulk`) one chunk at a time.

- `customers.import`: rows of a CSV file -> customers (and their lines). Set-based: a chunk is validated row by
  row, then written with one INSERT per table and its events staged with one outbox INSERT; a row that breaks a
  rule (bad value, unknown partner, username or static IP taken, also earlier in the same file) is reported with
  its column and the others go in.
- `subscribers.suspend`, `subscribers.reinstate`, `subscribers.terminate`: the lifecycle use case
  (`service_layer.subscribers.change_status`) per line, so each change has its history row and its event, exactly
  as over HTTP; a line the rule refuses (e.g. suspend a pending one) is a failed item with the reason.
- `customers.tag`: adds a tag to each customer (`service_layer.customers.update_customer`: CustomerUpdated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.customers import BulkOperationCompleted, CustomerCreated, SubscriberCreated
from bss_runtime.auth import Role
from bss_runtime.bulk import BulkEngine, Item, ItemResult, Kind, Operation
from bss_runtime.bulk_api import announcer
from bss_runtime.errors import DomainError
from bss_runtime.outbox import EventWriter
from customers.adapters import repository as repo
from customers.bulk import adapters
from customers.bulk.domain import LINE_STATUSES, column_of, customer_fields
from customers.domain.lifecycle import Action
from customers.entrypoints.schemas import CustomerCreate, SubscriberCreate
from customers.service_layer import customers as customer_cases
from customers.service_layer import subscribers as subscriber_cases
from customers.service_layer.common import new_id, utcnow

IMPORT = "customers.import"
TAG = "customers.tag"
LIFECYCLE = {
    "subscribers.suspend": Action.SUSPEND,
    "subscribers.reinstate": Action.REINSTATE,
    "subscribers.terminate": Action.TERMINATE,
}


class _Line(BaseModel):
    line: SubscriberCreate
    status: str


def _validate(values: Mapping[str, str]) -> tuple[dict[str, Any], _Line | None] | ItemResult:
    """One row -> (customer field values, line) or the row's first error, naming its column."""
    if "" in values:  # more cells than columns
        return ItemResult(error=values[""], column="")
    try:
        customer = CustomerCreate.model_validate(customer_fields(dict(values))).model_dump(exclude_unset=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        return ItemResult(error=first["msg"], column=column_of(tuple(first["loc"])))
    line: _Line | None = None
    if "username" in values:
        try:
            sub = SubscriberCreate.model_validate({"username": values["username"], "plan_id": values.get("plan_id")})
        except ValidationError as exc:
            first = exc.errors()[0]
            return ItemResult(error=first["msg"], column=str(first["loc"][0]))
        status = values.get("line_status", "pending")
        if status not in LINE_STATUSES:
            return ItemResult(error=f"must be one of {', '.join(LINE_STATUSES)}", column="line_status")
        line = _Line(line=sub, status=status)
    else:
        for column in ("plan_id", "line_status"):
            if column in values:
                return ItemResult(error="needs a username (the line it belongs to)", column=column)
    return customer, line


async def import_customers(
    session: AsyncSession, events: EventWriter, op: Operation, items: Sequence[Item]
) -> list[ItemResult]:
    tenant_id = op.tenant_id
    checked = [_validate(item.payload) for item in items]
    valid = [(i, c) for i, c in enumerate(checked) if not isinstance(c, ItemResult)]
    partners = await adapters.existing_partners(
        session, tenant_id, {c[0]["partner_id"] for _, c in valid if c[0].get("partner_id")}
    )
    usernames = await adapters.taken_usernames(session, tenant_id, {c[1].line.username for _, c in valid if c[1]})
    ips = await adapters.taken_static_ips(
        session, tenant_id, {c[0]["static_ip_assigned"] for _, c in valid if c[0].get("static_ip_assigned")}
    )
    results: list[ItemResult | None] = [c if isinstance(c, ItemResult) else None for c in checked]
    now = utcnow()
    customer_rows: list[dict[str, Any]] = []
    lines: list[tuple[int, _Line]] = []
    for index, (values, line) in [(i, c) for i, c in valid if not isinstance(c, ItemResult)]:
        partner, ip = values.get("partner_id"), values.get("static_ip_assigned")
        if partner is not None and partner not in partners:
            results[index] = ItemResult(error=f"unknown partner {partner!r}", column="partner_id")
            continue
        if ip is not None and ip in ips:
            results[index] = ItemResult(
                error="this IPv4 address is assigned to another customer", column="static_ip_assigned"
            )
            continue
        if line is not None and line.line.username in usernames:
            results[index] = ItemResult(error="this username is taken", column="username")
            continue
        if ip is not None:
            ips.add(ip)
        if line is not None:
            usernames.add(line.line.username)
            lines.append((index, line))
        customer_id = new_id()
        customer_rows.append(
            repo.customer_columns(values)
            | {"tenant_id": tenant_id, "id": customer_id, "created_at": now, "updated_at": now}
        )
        results[index] = ItemResult(result=customer_id)
    inserted = await adapters.insert_customers(session, customer_rows)
    staged: list[Any] = []
    for row in inserted:
        state = repo.customer_state(row)
        staged.append(CustomerCreated(customer_id=state.customer_id, customer=state))
    subscriber_rows = []
    for index, line in lines:
        result = results[index]
        assert result is not None and result.result is not None
        sub_id = new_id()
        subscriber_rows.append(
            {
                "tenant_id": tenant_id, "id": sub_id, "customer_id": result.result, "username": line.line.username,
                "plan_id": line.line.plan_id, "status": line.status, "status_changed_at": now, "created_at": now,
            }
        )  # fmt: skip
        staged.append(
            SubscriberCreated(
                subscriber_id=sub_id, customer_id=result.result, username=line.line.username,
                plan_id=line.line.plan_id, status=line.status, created_at=now,
            )
        )  # fmt: skip
    await adapters.insert_subscribers(session, subscriber_rows)
    await events.add_many(session, [(event, tenant_id) for event in staged])
    return [r if r is not None else ItemResult(error="not processed") for r in results]


def _lifecycle(action: Action) -> Any:
    async def change(
        session: AsyncSession, events: EventWriter, op: Operation, items: Sequence[Item]
    ) -> list[ItemResult]:
        reason = op.params.get("reason")
        out: list[ItemResult] = []
        for item in items:
            try:
                decision, _ = await subscriber_cases.change_status(
                    session, events, op.tenant_id, item.ref, action, reason=reason, requested_by=op.requested_by
                )
            except DomainError as exc:
                out.append(ItemResult(error=str(exc)))
                continue
            if decision.changed:
                out.append(ItemResult(result=decision.status.value))
            else:
                out.append(ItemResult(error=f"{decision.outcome.value}: {decision.reason}"))
        return out

    return change


async def tag_customers(
    session: AsyncSession, events: EventWriter, op: Operation, items: Sequence[Item]
) -> list[ItemResult]:
    tag = str(op.params["tag"])
    out: list[ItemResult] = []
    for item in items:
        try:
            current = await customer_cases.get_customer(session, op.tenant_id, item.ref)
            tags = list(dict.fromkeys([*current.tags, tag]))
            await customer_cases.update_customer(session, events, op.tenant_id, item.ref, {"tags": tags})
        except DomainError as exc:
            out.append(ItemResult(error=str(exc)))
            continue
        out.append(ItemResult(result=tag))
    return out


announce = announcer(BulkOperationCompleted)


def register(engine: BulkEngine) -> None:
    engine.register(
        Kind(
            IMPORT,
            import_customers,
            roles=(Role.OPS, Role.SUPPORT),
            description="Import customers and their lines from a CSV file",
        )
    )
    engine.register(Kind(TAG, tag_customers, roles=(Role.SUPPORT, Role.OPS), description="Add a tag to customers"))
    engine.register(
        Kind("subscribers.suspend", _lifecycle(Action.SUSPEND), roles=(Role.COLLECTIONS,), description="Suspend lines")
    )
    engine.register(
        Kind(
            "subscribers.reinstate",
            _lifecycle(Action.REINSTATE),
            roles=(Role.COLLECTIONS,),
            description="Reinstate suspended lines",
        )
    )
    engine.register(
        Kind(
            "subscribers.terminate",
            _lifecycle(Action.TERMINATE),
            roles=(Role.SUPPORT, Role.OPS),
            description="Terminate lines",
        )
    )
