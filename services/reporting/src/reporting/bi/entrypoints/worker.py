"""The BI worker loop (seed 002's Celery tasks, as the service's own loop): start due schedules, run pending
executions, make due deliveries, and now and then remove outputs past retention.

Every piece of work is claimed with `FOR UPDATE SKIP LOCKED`, so any number of replicas can run this loop.
When nothing is to be done it waits BI_POLL_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from reporting.bi.service_layer import delivery, runs
from reporting.bi.service_layer.deps import BiDeps

log = logging.getLogger(__name__)


class BiWorker:
    def __init__(self, deps: BiDeps) -> None:
        self.deps = deps
        self._last_cleanup: datetime | None = None

    # Each returns how much it did; tests and tools call them directly.
    async def start_due_schedules(self) -> int:
        return await _drain(lambda: runs.run_due_schedule(self.deps))

    async def run_pending_executions(self) -> int:
        return await _drain(lambda: runs.run_next_execution(self.deps))

    async def make_due_deliveries(self) -> int:
        return await _drain(lambda: delivery.deliver_next(self.deps))

    async def clean_expired_outputs(self) -> int:
        done = 0
        while n := await runs.clean_expired_outputs(self.deps):
            done += n
        return done

    async def run_once(self) -> int:
        """One round of everything; returns the pieces of work done. A step that fails (database away) does
        not keep the others from running."""
        steps = [self.start_due_schedules, self.run_pending_executions, self.make_due_deliveries]
        now = self.deps.clock.now()
        interval = self.deps.settings.bi_cleanup_interval_seconds
        if self._last_cleanup is None or (now - self._last_cleanup).total_seconds() >= interval:
            self._last_cleanup = now
            steps.append(self.clean_expired_outputs)
        done = 0
        for step in steps:
            try:
                done += await step()
            except Exception:
                log.exception("BI worker step failed; will retry", extra={"step": step.__name__})
        return done

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            busy = await self.run_once() > 0
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.deps.settings.bi_poll_seconds)


async def _drain(one: Callable[[], Awaitable[bool]]) -> int:
    done = 0
    while await one():
        done += 1
    return done
