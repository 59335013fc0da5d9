"""Background upkeep: monthly session partitions created ahead, and those past retention dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from bss_runtime.db import Database
from reporting.adapters.partitions import SessionPartitions

log = logging.getLogger(__name__)


class PartitionMaintenance:
    def __init__(
        self,
        database: Database,
        partitions: SessionPartitions,
        *,
        interval_seconds: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.database = database
        self.partitions = partitions
        self.interval_seconds = interval_seconds
        self.clock = clock

    async def run_once(self) -> None:
        async with self.database.transaction() as session:
            dropped = await self.partitions.maintain(session, self.clock())
        if dropped:
            log.info("session partitions past retention dropped", extra={"months": [str(m) for m in dropped]})

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("partition maintenance failed; will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_seconds)
