"""Writers of the services export, fed chunk by chunk so that memory stays flat whatever the row count.

CSV is written by PostgreSQL itself (COPY) and JSON objects are built by it (adapters/repository.py); both
are handed on as they are read. Parquet is written one row group per chunk into a sink that hands the bytes
on at once (Parquet is written front to back, the footer last). xlsx is a zip archive that can only be
finished at the end: xlsxwriter's constant_memory mode writes it to a temporary file, which is then streamed
and removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

Format = Literal["csv", "json", "xlsx", "parquet"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
XLSX_MAX_ROWS = 1_048_575  # a worksheet's 1,048,576 rows, less the header
_READ_BYTES = 256 * 1024

Chunks = AsyncIterator[Sequence[Any]]


async def json_stream(chunks: AsyncIterator[list[str]]) -> AsyncIterator[bytes]:
    """A JSON array of objects (each already JSON text), written chunk by chunk."""
    yield b"["
    first = True
    async for chunk in chunks:
        yield (("" if first else ",") + ",".join(chunk)).encode()
        first = False
    yield b"]"


class _Sink:
    """A write-only file for pyarrow that keeps what was written until it is taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _arrow_schema(columns: Sequence[str], timestamps: set[str]) -> pa.Schema:
    return pa.schema([(c, pa.timestamp("us", tz="UTC") if c in timestamps else pa.string()) for c in columns])


async def parquet_stream(
    chunks: Chunks, columns: Sequence[str], timestamps: set[str], *, row_group_rows: int
) -> AsyncIterator[bytes]:
    """Chunks are gathered into row groups of `row_group_rows`; bytes are handed on as each group is written."""
    schema = _arrow_schema(columns, timestamps)
    sink = _Sink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    async def flush() -> bytes:
        nonlocal pending, pending_rows
        if pending:
            await asyncio.to_thread(writer.write_table, pa.Table.from_batches(pending, schema), row_group_rows)
            pending, pending_rows = [], 0
        return sink.take()

    try:
        async for chunk in chunks:
            pending.append(pa.record_batch({c: [getattr(row, c) for row in chunk] for c in columns}, schema=schema))
            pending_rows += len(chunk)
            if pending_rows >= row_group_rows:
                yield await flush()
        yield await flush()
    finally:
        writer.close()
    yield sink.take()


async def xlsx_stream(chunks: Chunks, columns: Sequence[str], timestamps: set[str]) -> AsyncIterator[bytes]:
    fd, path = tempfile.mkstemp(prefix="services_export_", suffix=".xlsx")
    os.close(fd)
    try:
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "remove_timezone": True})
        sheet = workbook.add_worksheet("services")
        when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        sheet.write_row(0, 0, [f"{c} (UTC)" if c in timestamps else c for c in columns])
        next_row = 1

        def write(chunk: Sequence[Any], first: int) -> None:
            for n, row in enumerate(chunk):
                for col, name in enumerate(columns):
                    value = getattr(row, name)
                    if value is None:
                        continue
                    if name in timestamps:
                        sheet.write_datetime(first + n, col, value, when)
                    else:
                        sheet.write_string(first + n, col, str(value))

        async for chunk in chunks:
            await asyncio.to_thread(write, chunk, next_row)
            next_row += len(chunk)
        await asyncio.to_thread(workbook.close)
        with open(path, "rb") as f:  # noqa: ASYNC230 - reads in a thread below
            while data := await asyncio.to_thread(f.read, _READ_BYTES):
                yield data
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
