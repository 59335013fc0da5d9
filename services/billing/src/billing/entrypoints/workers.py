"""The schedulers: overdue invoices, billing-cycle closes, scheduled plan changes, subscription history, SLA periods.

Each pass claims its rows with FOR UPDATE SKIP LOCKED (or a conditional update) and commits the state change
with its events, so any number of replicas can run them at once without doing anything twice. Tests and the
HTTP triggers call the passes directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from billing.service_layer import bill_run, overdue, revenue, sla, subscriptions
from billing.service_layer.deps import Deps

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, deps: Deps, *, poll_seconds: float) -> None:
        self.deps = deps
        self._poll = poll_seconds

    async def report_overdue(self) -> int:
        return await overdue.report_overdue(self.deps)

    async def close_cycles(self) -> int:
        return await bill_run.close_due(self.deps)

    async def apply_plan_changes(self) -> int:
        return await subscriptions.apply_due_changes(self.deps)

    async def publish_subscription_history(self) -> int:
        """The backfill of subscription events: finds nothing to do once every subscription has its history."""
        return await revenue.publish_missing_history(self.deps)

    async def evaluate_slas(self) -> int:
        return await sla.finalize_due(self.deps) + await sla.watch_ongoing(self.deps)

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            self._loop(stop, self.report_overdue, "overdue"),
            self._loop(stop, self.close_cycles, "cycle-close"),
            self._loop(stop, self.apply_plan_changes, "plan-change"),
            self._loop(stop, self.publish_subscription_history, "subscription-history"),
            self._loop(stop, self.evaluate_slas, "sla"),
        )

    async def _loop(self, stop: asyncio.Event, work: Callable[[], Awaitable[int]], name: str) -> None:
        while not stop.is_set():
            try:
                await work()
            except Exception:
                log.exception("billing scheduler failed; retrying", extra={"worker": name})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._poll)
