"""Helpers for the bssctl tests: the installed `bssctl` entry point run as a subprocess against the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

BSSCTL = Path(sys.executable).parent / "bssctl"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[str]:
        return self.out.splitlines()


@dataclass(frozen=True)
class Bssctl:
    """`await bssctl("tail", "bss.radius.nas")`: runs the installed command with this deployment's environment."""

    bootstrap: str
    prefix: str
    env: dict[str, str]

    def environment(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        return base | {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "KAFKA_TOPIC_PREFIX": self.prefix} | self.env | extra

    async def start(self, *args: str, stdout: Any = asyncio.subprocess.PIPE, **env: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            str(BSSCTL),
            *args,
            stdout=stdout,
            stderr=asyncio.subprocess.PIPE,
            env=self.environment(**env),
        )

    async def __call__(self, *args: str, timeout: float = 60.0, **env: str) -> Ran:
        process = await self.start(*args, **env)
        out, err = await asyncio.wait_for(process.communicate(), timeout)
        assert process.returncode is not None
        return Ran(process.returncode, out.decode(), err.decode())


def assert_one_line_error(ran: Ran, code: int, *fragments: str) -> None:
    """Exit `code`, one line on stderr starting `bssctl:`, naming every fragment; never a traceback."""
    assert ran.code == code, ran
    assert "Traceback" not in ran.err and "Traceback" not in ran.out, ran.err
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bssctl: "), ran.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


async def send(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    partition: int | None = None,
    timestamp_ms: int | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(
                topic, value, key=key, headers=headers or [], partition=partition, timestamp_ms=timestamp_ms
            )
    finally:
        await producer.stop()
