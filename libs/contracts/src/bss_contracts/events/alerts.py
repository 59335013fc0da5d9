"""Business alert events (produced by the reporting service): an alert of a rule on one subject started firing
or resolved. Alertmanager's states: `pending` is internal (the condition holds, waiting out the rule's `for`),
so only the transitions a person acts on are events."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from bss_contracts import topics
from bss_contracts.envelope import DomainEvent


class _AlertEvent(DomainEvent):
    topic = topics.ALERTS
    key_field = "alert_id"

    alert_id: str
    rule_id: str
    rule_name: str
    kind: str = Field(description="The rule kind, e.g. usage_drop, mrr_drop, nas_concurrency")
    subject: str = Field(description="What the alert is about: 'tenant', a NAS id, a topic or consumer group")
    value: float | None = Field(default=None, description="The measured value when the alert changed state")
    threshold: float = Field(description="The rule's threshold the value is compared with")
    summary: str
    started_at: AwareDatetime = Field(description="When the condition first held (the alert became pending)")


class AlertFiring(_AlertEvent):
    event_type = "bss.reporting.alert.firing"

    fired_at: AwareDatetime


class AlertResolved(_AlertEvent):
    event_type = "bss.reporting.alert.resolved"

    fired_at: AwareDatetime
    resolved_at: AwareDatetime
