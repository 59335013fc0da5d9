"""What the alerts' use cases need: the database, the read model's schema, settings, a clock, the outbox
writer, the broker probe and the two senders."""

from __future__ import annotations

from dataclasses import dataclass

from bss_runtime.clock import Clock
from bss_runtime.db import Database
from bss_runtime.outbox import EventWriter
from reporting.alerts.adapters.measures import KafkaProbe
from reporting.alerts.adapters.notify import Mailer, WebhookPoster
from reporting.config import Settings


@dataclass(frozen=True)
class AlertsDeps:
    database: Database
    read_schema: str
    settings: Settings
    clock: Clock
    events: EventWriter
    kafka: KafkaProbe
    mailer: Mailer
    webhooks: WebhookPoster
