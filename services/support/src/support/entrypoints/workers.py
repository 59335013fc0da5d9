"""The SLA breach scheduler: every `breach_poll_seconds`, mark the clocks that ran out (`tickets.mark_breaches`).

Every replica runs it; each due ticket is locked by one of them (SKIP LOCKED) and its breach flag is set in the
same transaction as its `TicketSlaBreached` event, so each clock breaches exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from support.service_layer.deps import SupportDeps
from support.service_layer.tickets import mark_breaches

log = logging.getLogger(__name__)


class BreachScheduler:
    def __init__(self, deps: SupportDeps, *, poll_seconds: float, batch_size: int) -> None:
        self.deps = deps
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size

    async def run_once(self) -> int:
        """Mark every due breach (batch after batch); returns how many clocks this call marked."""
        total = 0
        while (marked := await mark_breaches(self.deps, self.batch_size)) > 0:
            total += marked
        return total

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # a database outage: try again at the next tick
                log.exception("breach scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
