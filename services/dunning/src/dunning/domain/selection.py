"""Which campaign an overdue invoice gets, and from when.

Every active campaign whose exclusion rules let the invoice through *matches*; the one with the highest
priority wins (ties: the one that starts earliest, then the oldest). It starts once the invoice is its
`trigger_after_days` past due; until then the invoice is looked at again when that day comes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dunning.domain.campaigns import ExclusionRules


@dataclass(frozen=True)
class Debt:
    """An overdue invoice, as billing reported it."""

    invoice_id: str
    customer_id: str
    subscriber_id: str | None
    partner_id: str | None
    currency: str
    balance_minor: int
    due_date: date


@dataclass(frozen=True)
class CustomerFacts:
    """Dunning's own copy of what it needs about a customer (from the customers service's events)."""

    customer_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    partner_id: str | None = None
    tags: tuple[str, ...] = ()
    timezone: str | None = None


@dataclass(frozen=True)
class CampaignCandidate:
    campaign_id: str
    name: str
    priority: int
    trigger_after_days: int
    exclusions: ExclusionRules
    created_at: datetime
    is_active: bool = True


@dataclass(frozen=True)
class Choice:
    campaign_id: str
    starts_at: datetime  # when the invoice is trigger_after_days past due


def exclusion_reason(
    rules: ExclusionRules, debt: Debt, customer: CustomerFacts | None, subscriber_status: str | None
) -> str | None:
    """Why `rules` leave this debt alone, or None if the campaign applies to it."""
    minimum = rules.min_outstanding_minor.get(debt.currency)
    if minimum is not None and debt.balance_minor < minimum:
        return f"outstanding {debt.balance_minor} {debt.currency} is below the minimum {minimum}"
    partners = {p for p in (debt.partner_id, customer.partner_id if customer else None) if p}
    if hit := partners.intersection(rules.partner_ids):
        return f"partner {sorted(hit)[0]} is excluded"
    if customer and (tags := set(customer.tags).intersection(rules.customer_tags)):
        return f"customer tag {sorted(tags)[0]} is excluded"
    if subscriber_status is not None and subscriber_status in rules.subscriber_statuses:
        return f"subscriber status {subscriber_status} is excluded"
    return None


def zone_for(customer: CustomerFacts | None, rules: ExclusionRules | None, default: str) -> ZoneInfo:
    """The calendar of a customer: theirs if known, else the campaign's, else the service default."""
    for name in (customer.timezone if customer else None, rules.timezone if rules else None):
        if name:
            try:
                return ZoneInfo(name)
            except (KeyError, ValueError):
                continue
    return ZoneInfo(default)


def days_past_due(due_date: date, now: datetime, zone: ZoneInfo) -> int:
    return (now.astimezone(zone).date() - due_date).days


def trigger_time(due_date: date, trigger_after_days: int, zone: ZoneInfo) -> datetime:
    """The start of the local day on which the invoice is `trigger_after_days` past due (in UTC)."""
    day = due_date + timedelta(days=trigger_after_days)
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def choose_campaign(
    campaigns: Iterable[CampaignCandidate],
    debt: Debt,
    customer: CustomerFacts | None,
    subscriber_status: str | None,
    zone: ZoneInfo,
) -> Choice | None:
    """The winning campaign for this debt and when it starts, or None if no active campaign matches."""
    matching = [
        (campaign, trigger_time(debt.due_date, campaign.trigger_after_days, zone))
        for campaign in campaigns
        if campaign.is_active and exclusion_reason(campaign.exclusions, debt, customer, subscriber_status) is None
    ]
    if not matching:
        return None
    best, starts_at = _best(matching)
    return Choice(campaign_id=best.campaign_id, starts_at=starts_at)


def rejections(
    campaigns: Iterable[CampaignCandidate], debt: Debt, customer: CustomerFacts | None, subscriber_status: str | None
) -> dict[str, str]:
    """Why each active campaign leaves this debt alone (campaign name -> reason)."""
    return {
        c.name: reason
        for c in campaigns
        if c.is_active and (reason := exclusion_reason(c.exclusions, debt, customer, subscriber_status))
    }


def _best(matching: Sequence[tuple[CampaignCandidate, datetime]]) -> tuple[CampaignCandidate, datetime]:
    return min(matching, key=lambda m: (-m[0].priority, m[1], m[0].created_at, m[0].campaign_id))
