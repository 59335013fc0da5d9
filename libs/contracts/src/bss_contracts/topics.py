"""The topic registry: one topic per event family, who produces and consumes it, and how it is kept.

Source topics keep their whole history (or a compacted latest state per key where each event carries the
full state), so that the reporting service can rebuild every read model by replaying them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

FOREVER = -1
DAY_MS = 24 * 3600 * 1000


class Service(StrEnum):
    CUSTOMERS = "customers"
    BILLING = "billing"
    DUNNING = "dunning"
    RADIUS_INGEST = "radius-ingest"
    REPORTING = "reporting"


@dataclass(frozen=True)
class Topic:
    name: str
    key: str  # what the record key is; events with the same key stay in order
    partitions: int
    producer: Service
    consumers: tuple[Service, ...]
    retention_ms: int = FOREVER
    compacted: bool = False
    description: str = ""
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        """Kafka topic configs for creating it."""
        cfg = {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "retention.ms": str(self.retention_ms),
        }
        return cfg | self.extra_config

    @property
    def dead_letter(self) -> str:
        return dead_letter_name(self.name)


def dead_letter_name(topic: str) -> str:
    return f"{topic}.dlq"


C, B, D, R, REP = (Service.CUSTOMERS, Service.BILLING, Service.DUNNING, Service.RADIUS_INGEST, Service.REPORTING)

CUSTOMERS = Topic(
    "bss.customers.customer",
    "customer_id",
    6,
    C,
    (B, D, REP),
    compacted=True,
    description="Customer created/updated; every event carries the customer's full state, so compaction "
    "keeps the latest state per customer forever.",
)
SUBSCRIBERS = Topic(
    "bss.customers.subscriber",
    "subscriber_id",
    6,
    C,
    (B, D, REP),
    description="Subscriber lifecycle: created, activated, suspended, reinstated, terminated.",
)
CUSTOMER_BULK_OPERATIONS = Topic(
    "bss.customers.bulk-operation",
    "operation_id",
    1,
    C,
    (),
    retention_ms=400 * DAY_MS,
    description="A bulk operation of the customers service finished (completed, with errors, canceled): "
    "its kind and counts. The items' own events go to their usual topics.",
)
SUBSCRIBER_COMMANDS = Topic(
    "bss.customers.subscriber-requests",
    "subscriber_id",
    6,
    D,
    (C,),
    retention_ms=30 * DAY_MS,
    description="Requests to suspend, reinstate or terminate a subscriber (from collections).",
)
INVOICES = Topic(
    "bss.billing.invoice",
    "invoice_id",
    6,
    B,
    (D, REP),
    description="Invoice issued/overdue/paid/voided, payments and credit notes applied to invoices.",
)
SLA = Topic(
    "bss.billing.sla",
    "instance_id",
    3,
    B,
    (REP,),
    description="SLA breach detected/resolved and SLA credit issued.",
)
USAGE = Topic(
    "bss.billing.usage",
    "subscriber_id",
    6,
    B,
    (REP,),
    description="Usage aggregated per subscription and billing period.",
)
SUBSCRIPTIONS = Topic(
    "bss.billing.subscription",
    "customer_id",
    6,
    B,
    (REP,),
    description="Subscription started, plan changed, canceled (end scheduled), ended: the subscription's "
    "monthly recurring revenue before and after each change. Keyed by customer, so one customer's "
    "subscriptions (and a win-back after an end) stay in order; kept forever for rebuilding read models.",
)
DUNNING = Topic(
    "bss.dunning.execution",
    "invoice_id",
    6,
    D,
    (REP,),
    description="Dunning execution started, step executed, completed, canceled.",
)
NOTIFICATIONS = Topic(
    "bss.notifications.request",
    "customer_id",
    3,
    D,
    (),
    retention_ms=30 * DAY_MS,
    description="A notification (email, sms) a service asked for; the record of what was sent.",
)
SESSIONS = Topic(
    "bss.radius.session",
    "username",
    12,
    R,
    (B, REP),
    retention_ms=400 * DAY_MS,
    description="RADIUS accounting sessions started/updated/stopped, keyed by subscriber username.",
)
NAS = Topic(
    "bss.radius.nas",
    "nas_id",
    3,
    R,
    (B, REP),
    retention_ms=400 * DAY_MS,
    description="NAS Accounting-On/Off: every open session of that NAS is closed.",
)
ALERTS = Topic(
    "bss.reporting.alert",
    "alert_id",
    3,
    REP,
    (),
    retention_ms=400 * DAY_MS,
    description="Business alerts firing and resolved (one alert per rule and subject): for paging and chat "
    "tools that subscribe; reporting also notifies by email and signed webhook.",
)

ALL_TOPICS: tuple[Topic, ...] = (
    CUSTOMERS,
    SUBSCRIBERS,
    CUSTOMER_BULK_OPERATIONS,
    SUBSCRIBER_COMMANDS,
    INVOICES,
    SLA,
    USAGE,
    SUBSCRIPTIONS,
    DUNNING,
    NOTIFICATIONS,
    SESSIONS,
    NAS,
    ALERTS,
)


def by_name(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)
