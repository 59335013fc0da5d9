"""What the use cases need from outside: the clock, the outbox writer and the delivery channels."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from bss_runtime.clock import Clock
from bss_runtime.db import Database
from bss_runtime.delivery import Mailer
from bss_runtime.outbox import EventWriter
from dunning.adapters.sms import SmsSender
from dunning.adapters.webhook import WebhookSender

REQUESTED_BY = "dunning"
_IDS = uuid.UUID("5b0c3c4e-6d1e-4b8a-9a52-7f1c2f6f1d10")


def stable_id(*parts: object) -> str:
    """The same id for the same (execution, step, attempt, ...): a repeated effect carries the same id."""
    return str(uuid.uuid5(_IDS, "/".join(map(str, parts))))


@dataclass(frozen=True)
class Deps:
    database: Database
    events: EventWriter
    clock: Clock
    mailer: Mailer
    sms: SmsSender
    webhooks: WebhookSender
    mail_from: str
    message_id_domain: str
    default_timezone: str
    intake_recheck: timedelta
    action_lease: timedelta = timedelta(minutes=5)  # how long a step's external call keeps others off
