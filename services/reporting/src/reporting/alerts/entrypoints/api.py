"""The alerts API, under /alerts (the gateway sends /alerts/ to reporting).

- rules: `GET/POST /alerts/rules`, `GET/PUT/DELETE /alerts/rules/{id}`, `POST /alerts/rules/defaults` (seed 003's
  thresholds), `GET /alerts/rule-kinds` (the JSON Schema of each kind's parameters);
- alerts: `GET /alerts?state=pending|firing|resolved`, `GET /alerts/{id}` (with its notifications),
  `POST /alerts/{id}/acknowledge`;
- silences: `GET/POST /alerts/silences`, `DELETE /alerts/silences/{id}` (ends it now);
- NAS capacities: `GET /alerts/nas-capacities`, `PUT/DELETE /alerts/nas-capacities/{nas_id}`.

Roles: revenue kinds (mrr_drop, logo_churn, ar_90_growth) are finance's, the others ops'; reading is open to
both; NAS capacities are ops'. Admin passes every check. Everything is the caller's tenant's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.errors import NotFound
from bss_runtime.inputs import Id, Offset, limit
from reporting.alerts.adapters import repository as repo
from reporting.alerts.domain.rules import PARAMETER_SCHEMAS, RuleKind, schema_of
from reporting.alerts.entrypoints import schemas
from reporting.alerts.service_layer import rules as use
from reporting.alerts.service_layer.deps import AlertsDeps
from reporting.alerts.service_layer.evaluation import close_alerts_of_deleted_rule

router = APIRouter(prefix="/alerts", tags=["alerts"])
Reader = Annotated[Principal, Depends(require_roles(Role.OPS, Role.FINANCE))]
Writer = Annotated[Principal, Depends(require_roles(Role.OPS, Role.FINANCE))]
Ops = Annotated[Principal, Depends(require_roles(Role.OPS))]
FINANCE_KINDS = {RuleKind.MRR_DROP, RuleKind.LOGO_CHURN, RuleKind.AR_90_GROWTH}


def _deps(request: Request) -> AlertsDeps:
    deps: AlertsDeps = request.app.state.alerts
    return deps


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the route returns, rolled back when it raises."""
    async with _deps(request).database.transaction() as session:
        yield session


Deps = Annotated[AlertsDeps, Depends(_deps)]
Session = Annotated[AsyncSession, Depends(_session)]


def _may_manage(principal: Principal, kind: RuleKind) -> None:
    needed = Role.FINANCE if kind in FINANCE_KINDS else Role.OPS
    if not principal.has_any([needed]):
        raise HTTPException(403, f"rules of kind {kind.value} require the role: {needed.value}")


def _rule(row: Any) -> schemas.RuleOut:
    return schemas.RuleOut(
        rule_id=row.rule_id,
        name=row.name,
        kind=row.kind,
        parameters=row.parameters,
        severity=row.severity,
        for_seconds=row.for_seconds,
        repeat_seconds=row.repeat_seconds,
        interval_seconds=row.interval_seconds,
        enabled=row.enabled,
        email_to=row.email_to.split(",") if row.email_to else [],
        webhook_url=row.webhook_url,
        next_evaluation_at=row.next_evaluation_at,
        last_evaluated_at=row.last_evaluated_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _fields(body: schemas.RuleIn) -> dict[str, Any]:
    fields = body.model_dump()
    fields["email_to"] = ",".join(body.email_to) or None
    return fields


@router.get("/rule-kinds")
async def rule_kinds(_: Reader) -> dict[str, Any]:
    """Each kind with the JSON Schema its `parameters` must satisfy."""
    return {kind.value: schema_of(kind) for kind in PARAMETER_SCHEMAS}


@router.get("/rules", response_model=list[schemas.RuleOut])
async def list_rules(principal: Reader, session: Session) -> list[schemas.RuleOut]:
    return [_rule(r) for r in await repo.list_rules(session, principal.tenant_id)]


@router.post("/rules", status_code=201, response_model=schemas.RuleOut)
async def create_rule(body: schemas.RuleIn, principal: Writer, session: Session, deps: Deps) -> schemas.RuleOut:
    _may_manage(principal, body.kind)
    rule_id = await use.create_rule(session, principal.tenant_id, _fields(body), deps.clock.now())
    return _rule(await repo.get_rule(session, principal.tenant_id, rule_id))


@router.post("/rules/defaults", status_code=201, response_model=list[schemas.RuleOut])
async def install_defaults(
    body: schemas.DefaultsIn, principal: Annotated[Principal, Depends(require_roles())], session: Session, deps: Deps
) -> list[schemas.RuleOut]:
    """Adds seed 003's default rules (revenue drop > 10 %, churn > 5 %, usage drop > 20 %) the tenant has no rule
    of that kind for yet; admin only (they span finance's and ops' kinds)."""
    channels = body.model_dump() | {"email_to": ",".join(body.email_to) or None}
    ids = await use.install_defaults(session, principal.tenant_id, channels, deps.clock.now())
    return [_rule(await repo.get_rule(session, principal.tenant_id, i)) for i in ids]


@router.get("/rules/{rule_id}", response_model=schemas.RuleOut)
async def get_rule(rule_id: Id, principal: Reader, session: Session) -> schemas.RuleOut:
    row = await repo.get_rule(session, principal.tenant_id, rule_id)
    if row is None:
        raise NotFound(f"alert rule {rule_id} not found")
    return _rule(row)


@router.put("/rules/{rule_id}", response_model=schemas.RuleOut)
async def replace_rule(
    rule_id: Id, body: schemas.RuleIn, principal: Writer, session: Session, deps: Deps
) -> schemas.RuleOut:
    _may_manage(principal, body.kind)
    existing = await repo.get_rule(session, principal.tenant_id, rule_id)
    if existing is not None:
        _may_manage(principal, RuleKind(existing.kind))
    await use.replace_rule(session, principal.tenant_id, rule_id, _fields(body), deps.clock.now())
    return _rule(await repo.get_rule(session, principal.tenant_id, rule_id))


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: Id, principal: Writer, session: Session, deps: Deps) -> Response:
    """Deletes the rule: its pending alerts go, its firing ones resolve (notified); resolved ones stay as a
    record."""
    existing = await repo.get_rule(session, principal.tenant_id, rule_id)
    if existing is None:
        raise NotFound(f"alert rule {rule_id} not found")
    _may_manage(principal, RuleKind(existing.kind))
    await close_alerts_of_deleted_rule(deps, session, existing, deps.clock.now())
    await repo.delete_rule(session, principal.tenant_id, rule_id)
    return Response(status_code=204)


@router.get("/silences", response_model=list[schemas.SilenceOut])
async def list_silences(principal: Reader, session: Session, deps: Deps) -> list[schemas.SilenceOut]:
    """Silences in force (ending after now)."""
    rows = await repo.list_silences(session, principal.tenant_id, deps.clock.now())
    return [schemas.SilenceOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/silences", status_code=201, response_model=schemas.SilenceOut)
async def create_silence(
    body: schemas.SilenceIn, principal: Writer, session: Session, deps: Deps
) -> schemas.SilenceOut:
    now = deps.clock.now()
    silence_id = await use.silence(session, principal.tenant_id, body.model_dump(), principal.subject, now)
    [row] = [r for r in await repo.list_silences(session, principal.tenant_id, now) if r.silence_id == silence_id]
    return schemas.SilenceOut.model_validate(row, from_attributes=True)


@router.delete("/silences/{silence_id}", status_code=204)
async def end_silence(silence_id: Id, principal: Writer, session: Session, deps: Deps) -> Response:
    if not await repo.expire_silence(session, principal.tenant_id, silence_id, deps.clock.now()):
        raise NotFound(f"silence {silence_id} not found or already ended")
    return Response(status_code=204)


@router.get("/nas-capacities", response_model=list[schemas.CapacityOut])
async def list_capacities(principal: Reader, session: Session) -> list[schemas.CapacityOut]:
    rows = await repo.list_capacities(session, principal.tenant_id)
    return [schemas.CapacityOut.model_validate(r, from_attributes=True) for r in rows]


@router.put("/nas-capacities/{nas_id}", response_model=schemas.CapacityOut)
async def put_capacity(
    nas_id: Id, body: schemas.CapacityIn, principal: Ops, session: Session, deps: Deps
) -> schemas.CapacityOut:
    await use.set_capacity(session, deps.read_schema, principal.tenant_id, nas_id, body.max_sessions, deps.clock.now())
    [row] = [r for r in await repo.list_capacities(session, principal.tenant_id) if r.nas_id == nas_id]
    return schemas.CapacityOut.model_validate(row, from_attributes=True)


@router.delete("/nas-capacities/{nas_id}", status_code=204)
async def delete_capacity(nas_id: Id, principal: Ops, session: Session) -> Response:
    if not await repo.delete_capacity(session, principal.tenant_id, nas_id):
        raise NotFound(f"no capacity set for NAS {nas_id}")
    return Response(status_code=204)


@router.get("", response_model=list[schemas.AlertOut])
async def list_alerts(
    principal: Reader,
    session: Session,
    state: Literal["pending", "firing", "resolved"] | None = None,
    rule_id: Id | None = None,
    size: Annotated[int, Query(alias="limit"), limit(1000)] = 100,
    offset: Offset = 0,
) -> list[schemas.AlertOut]:
    rows = await repo.list_alerts(session, principal.tenant_id, state, rule_id, size, offset)
    return [schemas.AlertOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/{alert_id}")
async def get_alert(alert_id: Id, principal: Reader, session: Session) -> dict[str, Any]:
    row = await repo.get_alert(session, principal.tenant_id, alert_id)
    if row is None:
        raise NotFound(f"alert {alert_id} not found")
    sent = await repo.list_notifications(session, principal.tenant_id, alert_id)
    return schemas.AlertOut.model_validate(row, from_attributes=True).model_dump(mode="json") | {
        "notifications": [
            schemas.NotificationOut.model_validate(n, from_attributes=True).model_dump(mode="json") for n in sent
        ]
    }


@router.post("/{alert_id}/acknowledge", response_model=schemas.AlertOut)
async def acknowledge(alert_id: Id, principal: Writer, session: Session, deps: Deps) -> schemas.AlertOut:
    """No reminders for it while it fires; its resolution is still notified."""
    row = await use.acknowledge(session, principal.tenant_id, alert_id, principal.subject, deps.clock.now())
    return schemas.AlertOut.model_validate(row, from_attributes=True)


def install(app: FastAPI, deps: AlertsDeps) -> None:
    app.state.alerts = deps
