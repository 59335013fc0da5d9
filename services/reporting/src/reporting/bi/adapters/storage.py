"""Outputs kept in PostgreSQL, 1 MiB per row: written as they are produced and read back chunk by chunk.

Why the database and not a directory: every replica of the service sees the same outputs without a shared
volume, they are backed up with the executions that describe them, an output appears only when complete (it
is written in one transaction), and retention deletes rows. Memory stays flat either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.bi.adapters.render import MEDIA_TYPES
from reporting.bi.adapters.tables import output_chunks, outputs

CHUNK_BYTES = 1024 * 1024


class OutputWriter:
    """One output of one execution, written inside the caller's transaction."""

    def __init__(self, session: AsyncSession, tenant_id: str, execution_id: str, output_format: str) -> None:
        self._session = session
        self._key = {"tenant_id": tenant_id, "execution_id": execution_id, "format": output_format}
        self._pending = bytearray()
        self._seq = 0
        self._size = 0
        self._digest = hashlib.sha256()

    async def begin(self, filename: str, now: datetime) -> None:
        fmt = self._key["format"]
        # A retried execution replaces what an earlier try left.
        await self._session.execute(delete(outputs).where(*(outputs.c[k] == v for k, v in self._key.items())))
        await self._session.execute(
            insert(outputs).values(
                **self._key, media_type=MEDIA_TYPES[fmt], filename=filename, size_bytes=0, sha256="", created_at=now
            )
        )

    async def write(self, data: bytes) -> None:
        self._pending += data
        self._size += len(data)
        self._digest.update(data)
        while len(self._pending) >= CHUNK_BYTES:
            await self._flush(bytes(self._pending[:CHUNK_BYTES]))
            del self._pending[:CHUNK_BYTES]

    async def _flush(self, data: bytes) -> None:
        await self._session.execute(insert(output_chunks).values(**self._key, seq=self._seq, data=data))
        self._seq += 1

    async def finish(self) -> int:
        if self._pending:
            await self._flush(bytes(self._pending))
            self._pending.clear()
        await self._session.execute(
            update(outputs)
            .where(*(outputs.c[k] == v for k, v in self._key.items()))
            .values(size_bytes=self._size, sha256=self._digest.hexdigest())
        )
        return self._size


async def store(
    session: AsyncSession,
    tenant_id: str,
    execution_id: str,
    output_format: str,
    filename: str,
    now: datetime,
    data: bytes,
) -> int:
    writer = OutputWriter(session, tenant_id, execution_id, output_format)
    await writer.begin(filename, now)
    await writer.write(data)
    return await writer.finish()


async def chunks(session: AsyncSession, tenant_id: str, execution_id: str, output_format: str) -> AsyncIterator[bytes]:
    """The output's bytes, one chunk per query (a 1 GB output never sits in memory)."""
    seq = 0
    while True:
        data = await session.scalar(
            select(output_chunks.c.data).where(
                output_chunks.c.tenant_id == tenant_id,
                output_chunks.c.execution_id == execution_id,
                output_chunks.c.format == output_format,
                output_chunks.c.seq == seq,
            )
        )
        if data is None:
            return
        yield bytes(data)
        seq += 1


async def read_all(session: AsyncSession, tenant_id: str, execution_id: str, output_format: str) -> bytes:
    return b"".join([c async for c in chunks(session, tenant_id, execution_id, output_format)])
