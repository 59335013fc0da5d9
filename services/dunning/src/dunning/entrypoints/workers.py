"""The background loops: run due steps, and look again at overdue invoices whose trigger day has come.

Each loop claims one row at a time with SKIP LOCKED and goes on while there is work; when there is none it
waits `poll_seconds`. Several loops (and several replicas) can run at once: they never take the same row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from dunning.service_layer.deps import Deps
from dunning.service_layer.intake import check_next_invoice
from dunning.service_layer.steps import run_next_due_step

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, deps: Deps, *, poll_seconds: float, concurrency: int) -> None:
        self._deps = deps
        self._poll = poll_seconds
        self._concurrency = concurrency

    async def run_due_steps(self) -> int:
        """Run steps until none is due; returns how many ran (tests and tools drive it directly)."""
        return await _drain(lambda: run_next_due_step(self._deps))

    async def check_due_invoices(self) -> int:
        return await _drain(lambda: check_next_invoice(self._deps))

    async def run(self, stop: asyncio.Event) -> None:
        loops = [self._loop(stop, lambda: check_next_invoice(self._deps), "intake")]
        loops += [
            self._loop(stop, lambda: run_next_due_step(self._deps), f"steps-{n}") for n in range(self._concurrency)
        ]
        await asyncio.gather(*loops)

    async def _loop(self, stop: asyncio.Event, one: Callable[[], Awaitable[bool]], name: str) -> None:
        """Take one piece of work at a time (so that stopping never cuts a step short); idle: wait."""
        while not stop.is_set():
            try:
                busy = await one()
            except Exception:
                log.exception("dunning worker failed; retrying", extra={"worker": name})
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._poll)


async def _drain(one: Callable[[], Awaitable[bool]]) -> int:
    done = 0
    while await one():
        done += 1
    return done
