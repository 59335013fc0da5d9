"""The alerts worker: evaluates due rules, then sends owed notifications, every ALERT_POLL_SECONDS when idle.
Every replica runs one; the claims (service_layer/evaluation.py, delivery.py) keep them from doing a piece of
work twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from reporting.alerts.service_layer import delivery, evaluation
from reporting.alerts.service_layer.deps import AlertsDeps

log = logging.getLogger(__name__)


class AlertsWorker:
    def __init__(self, deps: AlertsDeps) -> None:
        self.deps = deps

    async def run_once(self) -> int:
        """One round: evaluations, then deliveries; a step that fails (database away) does not stop the other."""
        done = 0
        for step in (evaluation.evaluate_due, delivery.deliver_due):
            try:
                done += await step(self.deps)
            except Exception:
                log.exception("alerts worker step failed; will retry", extra={"step": step.__name__})
        return done

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await self.run_once() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.deps.settings.alert_poll_seconds)
