"""Our copy of the customers service's customers and subscribers: which incoming state wins.

The one-event path states these rules in SQL (the upserts' `WHERE` in `adapters/repository.py`); the batch path
(`service_layer/account_batches.py`) folds a batch's events in memory with these functions, then writes the net
states with the same guarded upserts. Pure: no I/O.

- A customer event carries the whole customer; it replaces our copy unless ours is newer (`source_updated_at`;
  an equal one replaces it, as a redelivery changes nothing).
- A subscriber event replaces our copy's fields unless ours changed later (`changed_at`); only SubscriberCreated
  carries the plan, status events keep the plan we have (an unknown subscriber's status event creates the copy
  without a plan).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class CustomerCopy:
    tenant_id: str
    customer_id: str
    name: str
    partner_id: str | None
    billing_country: str | None
    timezone: str
    source_updated_at: datetime


@dataclass(frozen=True)
class SubscriberCopy:
    tenant_id: str
    subscriber_id: str
    customer_id: str
    username: str
    status: str
    plan_id: str | None
    changed_at: datetime


def kept_customer(current: CustomerCopy | None, incoming: CustomerCopy) -> CustomerCopy:
    """Our copy after `incoming`."""
    if current is None or current.source_updated_at <= incoming.source_updated_at:
        return incoming
    return current


def kept_subscriber(current: SubscriberCopy | None, incoming: SubscriberCopy, *, carries_plan: bool) -> SubscriberCopy:
    """Our copy after an event whose fields are `incoming` (`carries_plan`: SubscriberCreated)."""
    if current is None:
        return incoming
    if current.changed_at > incoming.changed_at:
        return current
    return incoming if carries_plan else replace(incoming, plan_id=current.plan_id)
