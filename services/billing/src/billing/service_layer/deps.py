"""What the use cases need from outside: the database, the outbox writer, the clock and a few settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from billing.domain.calendar import zone
from bss_runtime.clock import Clock
from bss_runtime.db import Database
from bss_runtime.outbox import EventWriter


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Deps:
    database: Database
    events: EventWriter
    clock: Clock
    default_timezone: str = "UTC"
    payment_terms_days: int = 14
    batch_size: int = 100
    bill_run_batch_size: int = 500  # subscriptions the bill run closes per transaction
    close_grace: timedelta = timedelta(hours=6)

    def zone(self, name: str | None) -> ZoneInfo:
        """A customer's time zone; the default one when it is missing or unknown."""
        return zone(name, self.default_timezone)
