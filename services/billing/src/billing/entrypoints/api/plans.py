"""Plans, subscriptions, usage per billing period, and the cycle-close trigger."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import status as http

from billing.adapters import subscriptions_repo as repo
from billing.domain.plan_fit import PlanTerms, best_plan, price_per_gb
from billing.entrypoints.api.common import BillingDeps, Finance, Limit, Operator, Reader
from billing.entrypoints.schemas import (
    CancelIn,
    PlanChangeIn,
    PlanCreate,
    PlanFitOut,
    PlanOut,
    SubscriptionCreate,
    SubscriptionOut,
    TriggerOut,
    UsageOut,
    UsagePeriodOut,
)
from billing.service_layer import bill_run, usage
from billing.service_layer import subscriptions as cases
from bss_runtime.inputs import Id, Offset

router = APIRouter(prefix="/billing", tags=["plans and usage"])


@router.post("/plans", status_code=http.HTTP_201_CREATED)
async def create_plan(body: PlanCreate, who: Finance, deps: BillingDeps) -> PlanOut:
    async with deps.database.transaction() as session:
        plan = await cases.create_plan(session, who.tenant_id, cases.PlanIn(**body.model_dump()))
    return PlanOut.model_validate(plan)


@router.get("/plans")
async def list_plans(who: Reader, deps: BillingDeps, limit: Limit = 50, offset: Offset = 0) -> list[PlanOut]:
    """By code."""
    async with deps.database.transaction() as session:
        rows = await repo.list_plans(session, who.tenant_id, limit=limit, offset=offset)
    return [PlanOut.model_validate(p) for p in rows]


@router.get("/plans/{plan_id}")
async def get_plan(plan_id: str, who: Reader, deps: BillingDeps) -> PlanOut:
    async with deps.database.transaction() as session:
        return PlanOut.model_validate(await cases.get_plan(session, who.tenant_id, plan_id))


@router.post("/plans/{plan_id}/retire")
async def retire_plan(plan_id: str, who: Finance, deps: BillingDeps) -> PlanOut:
    async with deps.database.transaction() as session:
        return PlanOut.model_validate(await cases.retire_plan(session, who.tenant_id, plan_id))


def _terms(row: Any) -> PlanTerms:
    return PlanTerms(
        plan_id=row.plan_id, code=row.code, name=row.name,
        currency=row.currency, price_minor=row.price_minor, included_octets=row.included_octets,
        overage_price_per_gb_minor=row.overage_price_per_gb_minor,
        overage_increment_octets=row.overage_increment_octets,
    )  # fmt: skip


@router.get("/plan-fit")
async def plan_fit(
    who: Reader,
    deps: BillingDeps,
    month: Annotated[str, Query(pattern=r"^(19|2[0-1])\d\d-(0[1-9]|1[0-2])$", description="YYYY-MM")],
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[PlanFitOut]:
    """Per subscriber, each billing cycle that starts in `month`: its plan, allowance, usage, the overage paid,
    the effective price per GB, and the cheapest plan of the catalogue for that usage (same currency) with the
    saving: upgrade and downgrade recommendations. The rule is the one that bills (fee + overage, tax excluded)."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    async with deps.database.transaction() as session:
        catalogue = [_terms(p) for p in await repo.plan_catalogue(session, who.tenant_id)]
        cycles = await repo.cycles_starting(session, who.tenant_id, first, last, limit=limit, offset=offset)
    out = []
    for c in cycles:
        paid = c.price_minor + c.billed_minor
        fit = best_plan(_terms(c), paid, c.used_octets, catalogue)
        out.append(
            PlanFitOut(
                subscription_id=c.subscription_id,
                subscriber_id=c.subscriber_id,
                customer_id=c.customer_id,
                period_start=c.period_start,
                period_end=c.period_end,
                plan_id=c.plan_id,
                plan_name=c.name,
                currency=c.currency,
                price_minor=c.price_minor,
                included_octets=c.included_octets,
                used_octets=c.used_octets,
                overage_octets=c.overage_octets,
                overage_paid_minor=c.billed_minor,
                paid_minor=paid,
                effective_price_per_gb_minor=price_per_gb(paid, c.used_octets),
                advice=fit.advice,
                recommended_plan_id=fit.plan.plan_id,
                recommended_plan_name=fit.plan.name,
                recommended_cost_minor=fit.cost_minor,
                monthly_saving_minor=fit.saving_minor,
            )
        )
    return out


@router.post("/subscriptions", status_code=http.HTTP_201_CREATED)
async def subscribe(body: SubscriptionCreate, who: Finance, deps: BillingDeps) -> SubscriptionOut:
    async with deps.database.transaction() as session:
        row = await cases.subscribe(
            session, deps, who.tenant_id, subscriber_id=body.subscriber_id, plan_id=body.plan_id,
            start_date=body.start_date,
        )  # fmt: skip
    return SubscriptionOut.of(row)


@router.get("/subscriptions")
async def list_subscriptions(
    who: Reader,
    deps: BillingDeps,
    customer_id: Id | None = None,
    subscriber_id: Id | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[SubscriptionOut]:
    """Oldest first."""
    async with deps.database.transaction() as session:
        rows = await repo.list_subscriptions(
            session, who.tenant_id, customer_id=customer_id, subscriber_id=subscriber_id, limit=limit, offset=offset
        )
        scheduled = await repo.scheduled_changes_of(session, who.tenant_id, [r.id for r in rows])
    return [SubscriptionOut.of(r, scheduled.get(r.id)) for r in rows]


@router.get("/subscriptions/{subscription_id}")
async def get_subscription(subscription_id: str, who: Reader, deps: BillingDeps) -> SubscriptionOut:
    async with deps.database.transaction() as session:
        subscription = await cases.get_subscription(session, who.tenant_id, subscription_id)
        scheduled = await cases.scheduled_change(session, who.tenant_id, subscription_id)
    return SubscriptionOut.of(subscription, scheduled)


@router.post("/subscriptions/{subscription_id}/change-plan")
async def change_plan(subscription_id: str, body: PlanChangeIn, who: Finance, deps: BillingDeps) -> SubscriptionOut:
    """Move the subscription to another plan of its currency: at once (credit for the unused part of the old
    plan and charge for the rest of the new one on the invoice of this cycle) or at the end of this cycle."""
    async with deps.database.transaction() as session:
        subscription = await cases.change_plan(
            session, deps, who.tenant_id, subscription_id, plan_id=body.plan_id, effective=body.effective
        )
        scheduled = await cases.scheduled_change(session, who.tenant_id, subscription_id)
    return SubscriptionOut.of(subscription, scheduled)


@router.post("/subscriptions/{subscription_id}/cancel")
async def cancel_subscription(
    subscription_id: str, who: Finance, deps: BillingDeps, body: CancelIn | None = None
) -> SubscriptionOut:
    """End the subscription with its current cycle, or after `last_day`."""
    last_day = body.last_day if body is not None else None
    async with deps.database.transaction() as session:
        return SubscriptionOut.of(await cases.cancel(session, deps, who.tenant_id, subscription_id, last_day=last_day))


@router.get("/subscriptions/{subscription_id}/usage")
async def subscription_usage(subscription_id: str, who: Reader, deps: BillingDeps) -> UsageOut:
    """Closed periods as billed (with late usage already re-billed), then the running cycle so far."""
    async with deps.database.transaction() as session:
        subscription = await cases.get_subscription(session, who.tenant_id, subscription_id)
        periods = [
            UsagePeriodOut(
                period_start=p.period_start,
                period_end=p.period_end - timedelta(days=1),
                input_octets=p.input_octets,
                output_octets=p.output_octets,
                total_octets=p.input_octets + p.output_octets,
                included_octets=p.included_octets,
                overage_octets=p.overage_octets,
                overage_amount_minor=p.billed_minor,
                currency=p.currency,
                final=True,
                invoice_id=p.invoice_id,
                late_usage_pending=p.dirty_since is not None,
            )
            for p in await repo.periods_of(session, who.tenant_id, subscription_id)
        ]
        if subscription.status == "active":
            live = await usage.current_usage(session, deps, subscription, deps.clock.now())
            periods.append(
                UsagePeriodOut(
                    period_start=live.period.start,
                    period_end=live.period.last_day,
                    input_octets=live.input_octets,
                    output_octets=live.output_octets,
                    total_octets=live.input_octets + live.output_octets,
                    included_octets=live.included_octets,
                    overage_octets=live.charge.overage_octets,
                    overage_amount_minor=live.charge.amount_minor,
                    currency=subscription.currency,
                    final=False,
                    invoice_id=None,
                )
            )
    return UsageOut(subscription_id=subscription_id, periods=periods)


@router.post("/usage/close")
async def close_cycles(who: Operator, deps: BillingDeps) -> TriggerOut:
    """Close the caller's tenant's cycles that are due now and bill late usage (what the scheduler does)."""
    return TriggerOut(processed=await bill_run.close_due(deps, tenant_id=who.tenant_id))
