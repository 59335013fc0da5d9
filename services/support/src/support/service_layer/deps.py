"""What the use cases need from outside: the database, the outbox writer and the clock."""

from __future__ import annotations

from dataclasses import dataclass

from bss_runtime.clock import Clock
from bss_runtime.db import Database
from bss_runtime.outbox import EventWriter


@dataclass(frozen=True)
class SupportDeps:
    database: Database
    events: EventWriter
    clock: Clock
