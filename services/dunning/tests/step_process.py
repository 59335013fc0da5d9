"""Runs the due steps of a dunning database once, at the time STEP_CLOCK (the crash test SIGKILLs it while a
step's call is in flight). Settings come from the environment (DATABASE_URL, SMTP_PORT, ...)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime

from bss_runtime.clock import ManualClock
from dunning.config import Settings
from dunning.entrypoints.app import build_runtime


async def main() -> None:
    service = build_runtime(
        Settings(worker_enabled=False), clock=ManualClock(datetime.fromisoformat(os.environ["STEP_CLOCK"]))
    )
    await service.scheduler.run_due_steps()
    await service.runtime.database.close()


asyncio.run(main())
