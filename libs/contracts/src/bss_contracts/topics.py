"""The topic registry: one topic per event family, who produces and consumes it, and how it is kept.

Source topics keep their whole history (or a compacted latest state per key where each event carries the
full state), so that the reporting service can rebuild every read model by replaying them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

FOREVER = -1
DAY_MS = 24 * 3600 * 1000

# Production durability: every partition (and its dead-letter twin) on three brokers, and an acks=all write
# acknowledged only once two of them have it, so one broker can be lost (or restarted) without losing an
# acknowledged record or refusing writes. A smaller cluster gets what it allows (`Replication.for_brokers`).
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int

    @classmethod
    def for_brokers(cls, brokers: int) -> Replication:
        """The registry's replication on a cluster of `brokers`: one broker (local mode, the tests) keeps one copy;
        two keep two but acknowledge on one (two of two would stop writes whenever either is down)."""
        if brokers < 1:
            raise ValueError(f"a cluster has at least one broker, not {brokers}")
        factor = min(REPLICATION_FACTOR, brokers)
        return cls(factor, min(MIN_INSYNC_REPLICAS, factor - 1) or 1)

    def config(self) -> dict[str, str]:
        """Topic configs; none on a single broker, whose own default (1) is the same."""
        return {} if self.factor == 1 else {"min.insync.replicas": str(self.min_insync)}


class Service(StrEnum):
    CUSTOMERS = "customers"
    BILLING = "billing"
    DUNNING = "dunning"
    RADIUS_INGEST = "radius-ingest"
    REPORTING = "reporting"
    SUPPORT = "support"


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


C, B, D, R, REP, SUP = (
    Service.CUSTOMERS,
    Service.BILLING,
    Service.DUNNING,
    Service.RADIUS_INGEST,
    Service.REPORTING,
    Service.SUPPORT,
)

CUSTOMERS = Topic(
    "bss.customers.customer",
    "customer_id",
    6,
    C,
    (B, D, REP, SUP),
    compacted=True,
    description="Customer created/updated; every event carries the customer's full state, so compaction "
    "keeps the latest state per customer forever.",
)
PARTNERS = Topic(
    "bss.customers.partner",
    "partner_id",
    3,
    C,
    (REP,),
    compacted=True,
    description="Partner created/updated; every event carries the partner's full state (its name), so compaction "
    "keeps the latest state per partner forever.",
)
SUBSCRIBERS = Topic(
    "bss.customers.subscriber",
    "subscriber_id",
    6,
    C,
    (B, D, REP, SUP),
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
    (REP, SUP),
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
BILLING_BULK_OPERATIONS = Topic(
    "bss.billing.bulk-operation",
    "operation_id",
    1,
    B,
    (),
    retention_ms=400 * DAY_MS,
    description="A bulk operation of the billing service finished (completed, with errors, canceled): "
    "its kind and counts. The items' own events go to their usual topics.",
)
DUNNING = Topic(
    "bss.dunning.execution",
    "invoice_id",
    6,
    D,
    (REP, SUP),
    description="Dunning execution started, step executed, completed, canceled.",
)
DUNNING_BULK_OPERATIONS = Topic(
    "bss.dunning.bulk-operation",
    "operation_id",
    1,
    D,
    (),
    retention_ms=400 * DAY_MS,
    description="A bulk operation of the dunning service finished (completed, with errors, canceled): "
    "its kind and counts. The items' own events go to their usual topics.",
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

TICKETS = Topic(
    "bss.support.ticket",
    "ticket_id",
    6,
    SUP,
    (REP,),
    description="Support tickets opened, assigned, first response, status changed, SLA breached, resolved, "
    "reopened; every event carries the ticket's type, priority and customer, so a report needs no other topic.",
)

ALL_TOPICS: tuple[Topic, ...] = (
    CUSTOMERS,
    PARTNERS,
    SUBSCRIBERS,
    CUSTOMER_BULK_OPERATIONS,
    SUBSCRIBER_COMMANDS,
    INVOICES,
    SLA,
    USAGE,
    SUBSCRIPTIONS,
    BILLING_BULK_OPERATIONS,
    DUNNING,
    DUNNING_BULK_OPERATIONS,
    NOTIFICATIONS,
    SESSIONS,
    NAS,
    ALERTS,
    TICKETS,
)


def by_name(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)
