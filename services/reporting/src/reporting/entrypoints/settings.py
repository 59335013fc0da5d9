"""Report settings of the caller's tenant: the blocked-customers priority thresholds (GET/PUT, finance or admin;
collections may read them). The rule: the first level (critical, high, medium) with one of its rules met, else
low; a rule is met when days blocked >= `min_days` and the balance (major units of the row's currency) >
`balance_over`, a part left out always holding. Defaults: `domain/collections.DEFAULT_THRESHOLDS`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.inputs import decimal_between
from reporting.adapters import settings as store
from reporting.domain.collections import PriorityRule, PriorityThresholds
from reporting.entrypoints.api import MAX_CREDIT_AMOUNT, MAX_DAYS_BLOCKED, Deps

router = APIRouter(prefix="/billing/reports/settings", tags=["report settings"])

MAX_RULES = 10


class PriorityRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days: Annotated[int | None, Field(ge=0, le=MAX_DAYS_BLOCKED)] = None
    balance_over: Annotated[Decimal | None, decimal_between(0, MAX_CREDIT_AMOUNT)] = Field(
        default=None, description="Major units of the row's currency (10000 = 10,000.00 EUR or 10,000 JPY)"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> PriorityRuleIn:
        if self.min_days is None and self.balance_over is None:
            raise ValueError("a rule needs min_days or balance_over (or both)")
        return self


Rules = Annotated[list[PriorityRuleIn], Field(max_length=MAX_RULES)]


class PriorityThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    critical: Rules
    high: Rules
    medium: Rules


class PriorityThresholdsOut(PriorityThresholdsIn):
    model_config = ConfigDict(extra="forbid")

    is_default: bool = Field(description="True: the tenant never set them; these are the defaults")
    updated_at: datetime | None


def _out(thresholds: PriorityThresholds, updated_at: datetime | None) -> PriorityThresholdsOut:
    def rules(rs: tuple[PriorityRule, ...]) -> list[PriorityRuleIn]:
        return [PriorityRuleIn(min_days=r.min_days, balance_over=r.balance_over) for r in rs]

    return PriorityThresholdsOut(
        critical=rules(thresholds.critical), high=rules(thresholds.high), medium=rules(thresholds.medium),
        is_default=updated_at is None, updated_at=updated_at,
    )  # fmt: skip


@router.get("/priority-thresholds")
async def get_priority_thresholds(
    deps: Deps, principal: Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.COLLECTIONS))]
) -> PriorityThresholdsOut:
    async with deps.database.engine.connect() as conn:
        return _out(*await store.load_thresholds(conn, principal.tenant_id))


@router.put("/priority-thresholds")
async def put_priority_thresholds(
    body: PriorityThresholdsIn,
    deps: Deps,
    principal: Annotated[Principal, Depends(require_roles(Role.FINANCE))],
) -> PriorityThresholdsOut:
    def rules(rs: list[PriorityRuleIn]) -> tuple[PriorityRule, ...]:
        return tuple(PriorityRule(r.min_days, r.balance_over) for r in rs)

    thresholds = PriorityThresholds(critical=rules(body.critical), high=rules(body.high), medium=rules(body.medium))
    now = deps.now()
    async with deps.database.engine.begin() as conn:
        await store.save_thresholds(conn, principal.tenant_id, thresholds, now, principal.subject)
    return _out(thresholds, now)
