"""Rules, silences, acknowledgements and NAS capacities: the use cases behind the API, one transaction each
(the caller's session)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.errors import Conflict, NotFound, RuleViolation
from reporting.alerts.adapters import repository as repo
from reporting.alerts.domain.rules import DEFAULT_RULES, ParameterError, RuleKind, check_parameters
from reporting.analytics.adapters.concurrency import nas_known


def checked_parameters(kind: RuleKind, parameters: dict[str, Any]) -> dict[str, Any]:
    try:
        return check_parameters(kind, parameters)
    except ParameterError as exc:
        field = f"parameters.{exc.field}" if exc.field else "parameters"
        raise RuleViolation(f"{field}: {exc.message}", field=field) from exc


def _channels(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("webhook_url") and not fields.get("webhook_secret"):
        raise RuleViolation("a webhook needs a secret to sign its bodies with", field="webhook_secret")
    return fields


async def create_rule(session: AsyncSession, tenant: str, fields: dict[str, Any], now: datetime) -> str:
    kind = RuleKind(fields["kind"])
    values = _channels(fields) | {"kind": kind.value, "parameters": checked_parameters(kind, fields["parameters"])}
    rule_id = str(uuid.uuid4())
    await repo.insert_rule(
        session,
        values
        | {"tenant_id": tenant, "rule_id": rule_id, "next_evaluation_at": now, "created_at": now, "updated_at": now},
    )
    return rule_id


async def replace_rule(session: AsyncSession, tenant: str, rule_id: str, fields: dict[str, Any], now: datetime) -> None:
    if await repo.get_rule(session, tenant, rule_id) is None:
        raise NotFound(f"alert rule {rule_id} not found")
    kind = RuleKind(fields["kind"])
    values = _channels(fields) | {"kind": kind.value, "parameters": checked_parameters(kind, fields["parameters"])}
    await repo.update_rule(session, tenant, rule_id, **values, updated_at=now, next_evaluation_at=now)


async def install_defaults(session: AsyncSession, tenant: str, channels: dict[str, Any], now: datetime) -> list[str]:
    """The default rules (seed 003's thresholds) the tenant does not have yet (by kind); their ids."""
    have = {row.kind for row in await repo.list_rules(session, tenant)}
    created = []
    for default in DEFAULT_RULES:
        if default.kind.value in have:
            continue
        fields = {
            "name": default.name,
            "kind": default.kind.value,
            "parameters": default.parameters,
            "severity": default.severity,
            "for_seconds": default.for_seconds,
            "repeat_seconds": 4 * 3600,
            "interval_seconds": 300,
            "enabled": True,
        } | channels
        created.append(await create_rule(session, tenant, fields, now))
    return created


async def acknowledge(session: AsyncSession, tenant: str, alert_id: str, by: str, now: datetime) -> Row[Any]:
    alert = await repo.get_alert(session, tenant, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    if alert.state != "firing":
        raise Conflict(f"alert {alert_id} is {alert.state}: only a firing alert is acknowledged")
    if alert.acknowledged_at is None:
        await repo.update_alert(session, tenant, alert_id, acknowledged_at=now, acknowledged_by=by, updated_at=now)
    found = await repo.get_alert(session, tenant, alert_id)
    assert found is not None
    return found


async def silence(session: AsyncSession, tenant: str, fields: dict[str, Any], by: str, now: datetime) -> str:
    if fields["ends_at"] <= now:
        raise RuleViolation("a silence must end in the future", field="ends_at")
    if await repo.get_rule(session, tenant, fields["rule_id"]) is None:
        raise RuleViolation(f"alert rule {fields['rule_id']} not found", field="rule_id")
    silence_id = str(uuid.uuid4())
    await repo.insert_silence(
        session, fields | {"tenant_id": tenant, "silence_id": silence_id, "created_by": by, "created_at": now}
    )
    return silence_id


async def set_capacity(
    session: AsyncSession, read_schema: str, tenant: str, nas_id: str, max_sessions: int, now: datetime
) -> None:
    """A NAS the read model has seen sessions of (else 422 naming nas_id)."""
    if not await nas_known(await session.connection(), read_schema, tenant, nas_id):
        raise RuleViolation(f"NAS {nas_id!r} is not known: no sessions of it were reported", field="nas_id")
    await repo.put_capacity(session, tenant, nas_id, max_sessions, now)
