"""The online-counter worker: every ONLINE_MOVE_ON_SECONDS, moves the online counter rows on to now
(service_layer/online.py), so that online now reads a row and a few seconds of changes. Every replica runs one;
the rows' locks make two at once harmless (the second finds them already moved)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from bss_runtime.db import Database
from reporting.analytics.service_layer.online import move_on

log = logging.getLogger(__name__)


class OnlineLevelsWorker:
    def __init__(
        self, database: Database, schema: str, *, interval_seconds: float, clock: Callable[[], datetime]
    ) -> None:
        self.database = database
        self.schema = schema
        self.interval_seconds = interval_seconds
        self.clock = clock

    async def run_once(self) -> int:
        async with self.database.transaction() as session:
            return await move_on(session, self.schema, self.clock())

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("moving the online counters on failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_seconds)
