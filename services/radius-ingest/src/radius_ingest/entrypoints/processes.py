"""Child processes the service supervises: started with the service, restarted if they die, stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.context
import os
import signal
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
SPAWN = multiprocessing.get_context("spawn")
_PR_SET_NAME = 15  # prctl(2)


class ProcessGroup:
    def __init__(
        self, name: str, count: int, target: Callable[..., None], args: Callable[[int], tuple[Any, ...]]
    ) -> None:
        self.name = name
        self.count = count
        self._target = target
        self._args = args
        self._processes: list[multiprocessing.context.SpawnProcess | None] = [None] * count

    def _start(self, index: int) -> None:
        name = f"{self.name}-{index}"
        process = SPAWN.Process(target=_named, args=(name, self._target, *self._args(index)), name=name, daemon=True)
        process.start()
        self._processes[index] = process

    async def run(self, stop: asyncio.Event) -> None:
        try:
            for index in range(self.count):
                self._start(index)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                for index, process in enumerate(self._processes):
                    if process is not None and not process.is_alive() and not stop.is_set():
                        log.error("child process died; restarting it",
                                  extra={"process": f"{self.name}-{index}", "exitcode": process.exitcode})  # fmt: skip
                        self._start(index)
        finally:
            await self._stop_all()

    async def _stop_all(self) -> None:
        alive = [p for p in self._processes if p is not None and p.is_alive()]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid or 0, signal.SIGTERM)
        for process in alive:
            await asyncio.to_thread(process.join, 15)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)


def _named(name: str, target: Callable[..., None], *args: Any) -> None:
    """Runs `target` in a process that `ps`, `top` and /proc/PID/comm show by its role (at most 15 bytes)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    target(*args)


def watch_parent(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM/SIGINT, and when the supervising parent is gone (checked by `parent_gone`)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def parent_gone(parent: int) -> bool:
    return os.getppid() != parent
