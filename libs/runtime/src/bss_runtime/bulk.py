"""Bulk operations: many items, processed in chunks, each chunk in one transaction with its events.

A service adds the two tables to its metadata (`add_bulk_tables`) and creates them in a migration
(`create_bulk_tables`), registers its kinds on a `BulkEngine` (kind -> handler, roles) and runs the engine as a
worker. What is guaranteed:

- `submit` stores the operation and every item (`pending`) in the caller's transaction: the answer is 202.
- A worker claims the next `chunk_size` pending items of a running operation with `FOR UPDATE SKIP LOCKED`,
  so replicas share the work and never take the same item. The handler's writes, its events (outbox), the
  items' results and the operation's counters commit together: a crash (even SIGKILL) loses only the
  uncommitted chunk, whose items are still pending and are taken again; a finished item is never redone.
- The handler gets the whole chunk (set-based); it answers per item (`ItemResult`). If it raises, the chunk is
  rolled back and each item is retried alone, in its own transaction: one bad item never stops the others,
  and an item that still raises is recorded `failed` with the error.
- The rate is bounded by `rows_per_second` (a setting), so bulk work never starves live traffic.
- A process runs `workers` chunk loops at once (`BULK_WORKERS`, 2): while one waits for PostgreSQL the other
  validates and builds its chunk, so both CPUs of a small machine work. They claim like replicas do.
- When no pending item is left the operation ends `completed` or `completed_with_errors`, and the handler's
  service writes its `completed` event (`on_complete`) in that same transaction. `cancel` stops it: items not
  yet processed become `canceled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.db import Database
from bss_runtime.errors import NotFound, RuleViolation
from bss_runtime.outbox import EventWriter

log = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("completed", "completed_with_errors", "canceled", "failed")


class BulkSettings(BaseSettings):
    """Bulk-operation settings a service's Settings inherit (same environment names everywhere)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    bulk_rows_per_second: float = Field(default=5000.0, gt=0, description="Upper bound of the bulk rate")
    bulk_chunk_size: int = Field(default=500, ge=1, le=5000, description="Items per transaction")
    bulk_workers: int = Field(default=2, ge=1, le=16, description="Chunks a process works on at once")
    bulk_max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1, description="Largest file accepted")
    bulk_max_items: int = Field(default=200_000, ge=1, description="Most items in one operation")


@dataclass(frozen=True)
class BulkTables:
    operations: Table
    items: Table


def add_bulk_tables(metadata: MetaData) -> BulkTables:
    operations = Table(
        "bulk_operations",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("id", String(36), primary_key=True),
        Column("kind", String(64), nullable=False),
        Column("state", String(24), nullable=False),
        Column("params", JSONB, nullable=False),
        Column("requested_by", String(100), nullable=False),
        Column("total", Integer, nullable=False),
        Column("succeeded", Integer, nullable=False, server_default="0"),
        Column("failed", Integer, nullable=False, server_default="0"),
        Column("canceled", Integer, nullable=False, server_default="0"),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("started_at", DateTime(timezone=True)),
        Column("finished_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("error", Text),
        Column("elapsed_seconds", Float, nullable=False, server_default="0"),
        Index("ix_bulk_operations_active", "state", "created_at", postgresql_where="state IN ('queued', 'running')"),
    )
    items = Table(
        "bulk_items",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("operation_id", String(36), primary_key=True),
        Column("seq", BigInteger, primary_key=True),
        Column("ref", String(255), nullable=False),  # what the item is: an id, or "row 12" of a file
        Column("payload", JSONB, nullable=False),
        Column("status", String(16), nullable=False, server_default="pending"),
        Column("error", Text),
        Column("column", String(100)),
        Column("result", String(255)),  # e.g. the id created
        Column("processed_at", DateTime(timezone=True)),
        Index("ix_bulk_items_pending", "operation_id", "seq", postgresql_where="status = 'pending'"),
        Index("ix_bulk_items_status", "tenant_id", "operation_id", "status", "seq"),
    )
    return BulkTables(operations=operations, items=items)


def create_bulk_tables() -> None:
    """For a service's migration: the bulk tables as declared here (one definition for every service)."""
    from alembic import op

    from bss_runtime.db import new_metadata

    tables = add_bulk_tables(new_metadata())
    tables.operations.create(op.get_bind())
    tables.items.create(op.get_bind())


def drop_bulk_tables() -> None:
    from alembic import op

    op.drop_table("bulk_items")
    op.drop_table("bulk_operations")


@dataclass(frozen=True)
class Item:
    seq: int
    ref: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ItemResult:
    """What came of one item: `error` None is success; `column` names the faulty field of a file row."""

    error: str | None = None
    column: str | None = None
    result: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Operation:
    tenant_id: str
    id: str
    kind: str
    params: Mapping[str, Any]
    requested_by: str


# handler(session, events, operation, items) -> one result per item, in order
Handler = Callable[[AsyncSession, EventWriter, Operation, Sequence[Item]], Awaitable[Sequence[ItemResult]]]
# on_complete(session, events, operation row) -> writes the service's completion event
OnComplete = Callable[[AsyncSession, EventWriter, Mapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    name: str
    handler: Handler
    roles: tuple[str, ...] = ()  # beside admin
    description: str = ""


@dataclass
class BulkEngine:
    database: Database
    events: EventWriter
    tables: BulkTables
    on_complete: OnComplete
    chunk_size: int = 500
    rows_per_second: float = 5000.0
    workers: int = 2
    idle_seconds: float = 0.2
    kinds: dict[str, Kind] = field(default_factory=dict)
    progress: asyncio.Condition | None = None

    def register(self, kind: Kind) -> None:
        self.kinds[kind.name] = kind

    def kind(self, name: str) -> Kind:
        if name not in self.kinds:
            raise RuleViolation(f"unknown kind {name!r}; known: {', '.join(sorted(self.kinds))}", field="kind")
        return self.kinds[name]

    # --- requests -----------------------------------------------------------------------------------------

    async def submit(
        self,
        session: AsyncSession,
        tenant_id: str,
        kind: str,
        items: Sequence[tuple[str, dict[str, Any]]],
        *,
        params: Mapping[str, Any],
        requested_by: str,
    ) -> str:
        """Store an operation and its items (ref, payload), queued; returns its id."""
        self.kind(kind)
        if not items:
            raise RuleViolation("no items to process", field="items")
        now = datetime.now(UTC)
        op_id = str(uuid.uuid4())
        await session.execute(
            insert(self.tables.operations).values(
                tenant_id=tenant_id, id=op_id, kind=kind, state="queued", params=dict(params),
                requested_by=requested_by, total=len(items), created_at=now, updated_at=now,
            )
        )  # fmt: skip
        rows = [
            {"tenant_id": tenant_id, "operation_id": op_id, "seq": i, "ref": ref, "payload": payload}
            for i, (ref, payload) in enumerate(items, start=1)
        ]
        for start in range(0, len(rows), 5000):
            await session.execute(insert(self.tables.items), rows[start : start + 5000])
        return op_id

    async def get(self, session: AsyncSession, tenant_id: str, op_id: str) -> Mapping[str, Any]:
        ops = self.tables.operations
        row = (await session.execute(select(ops).where(ops.c.tenant_id == tenant_id, ops.c.id == op_id))).one_or_none()
        if row is None:
            raise NotFound(f"no bulk operation {op_id}")
        return dict(row._mapping)

    async def items(
        self, session: AsyncSession, tenant_id: str, op_id: str, *, status: str | None, limit: int, offset: int
    ) -> Sequence[Mapping[str, Any]]:
        await self.get(session, tenant_id, op_id)
        t = self.tables.items
        cond = and_(t.c.tenant_id == tenant_id, t.c.operation_id == op_id)
        if status is not None:
            cond = and_(cond, t.c.status == status)
        stmt = select(t).where(cond).order_by(t.c.seq).limit(limit).offset(offset)
        return [dict(r._mapping) for r in (await session.execute(stmt)).all()]

    async def cancel(self, session: AsyncSession, tenant_id: str, op_id: str) -> Mapping[str, Any]:
        """Stop an operation: its items not yet processed become `canceled`. A finished one is left as it is."""
        ops, t = self.tables.operations, self.tables.items
        row = await self.get(session, tenant_id, op_id)
        if row["state"] in FINAL_STATES:
            return row
        # Items first, then the operation: the order a worker takes its locks in (no deadlock). Items a worker
        # holds are waited for; once its chunk commits they are no longer pending and stay as it left them.
        result = await session.execute(
            update(t)
            .where(t.c.tenant_id == tenant_id, t.c.operation_id == op_id, t.c.status == "pending")
            .values(status="canceled", processed_at=datetime.now(UTC))
        )
        canceled = int(result.rowcount)  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        done = (
            await session.execute(
                update(ops)
                .where(ops.c.tenant_id == tenant_id, ops.c.id == op_id, ops.c.state.in_(ACTIVE_STATES))
                .values(state="canceled", canceled=ops.c.canceled + canceled, finished_at=now, updated_at=now)
                .returning(*ops.c)
            )
        ).one_or_none()
        if done is None:  # a worker finished it meanwhile (then nothing was pending)
            return await self.get(session, tenant_id, op_id)
        await self.on_complete(session, self.events, dict(done._mapping))
        return dict(done._mapping)

    # --- the worker ---------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """`workers` chunk loops until `stop` is set."""
        await asyncio.gather(*(self._loop(stop) for _ in range(self.workers)))

    async def _loop(self, stop: asyncio.Event) -> None:
        """Process chunks until `stop` is set; sleep `idle_seconds` when there is nothing to do."""
        while not stop.is_set():
            try:
                worked = await self.step()
            except Exception:  # database down, ...: log and try again, never die
                log.exception("bulk step failed")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_seconds)

    async def step(self) -> bool:
        """Process one chunk of some active operation; False when there was none."""
        started = time.monotonic()
        async with self.database.transaction() as session:
            claimed = await self._claim(session)
            if claimed is None:
                return False
            op, items = claimed
            if items:
                kind = self.kinds.get(op.kind)
                results: Sequence[ItemResult] | None = None
                if kind is None:
                    results = [ItemResult(error=f"unknown kind {op.kind}")] * len(items)
                else:
                    try:
                        async with session.begin_nested():
                            results = await kind.handler(session, self.events, op, items)
                    except Exception as exc:  # retried item by item below
                        log.info("bulk chunk failed, retrying its items one by one: %s", exc)
                if results is not None:
                    await self._record(session, op, items, results, time.monotonic() - started)
                else:
                    assert kind is not None
                    for item in items:
                        try:
                            async with session.begin_nested():
                                (one,) = await kind.handler(session, self.events, op, [item])
                        except Exception as exc:
                            one = ItemResult(error=str(exc)[:500] or type(exc).__name__)
                        await self._record(session, op, [item], [one], 0.0)
                    await self._add_elapsed(session, op, time.monotonic() - started)
            await self._finish_if_done(session, op)
        if self.progress is not None:
            async with self.progress:
                self.progress.notify_all()
        # The rate bound: a chunk of n items takes each of the `workers` loops at least workers * n / rows_per_second.
        if items and self.rows_per_second > 0:
            pause = self.workers * len(items) / self.rows_per_second - (time.monotonic() - started)
            if pause > 0:
                await asyncio.sleep(pause)
        return True

    async def _claim(self, session: AsyncSession) -> tuple[Operation, Sequence[Item]] | None:
        """The next pending items of the oldest active operation that has some not taken by another worker.

        The operation row is not locked (replicas work on one operation together); items are, SKIP LOCKED.
        """
        ops, t = self.tables.operations, self.tables.items
        candidates = (
            await session.execute(select(ops).where(ops.c.state.in_(ACTIVE_STATES)).order_by(ops.c.created_at).limit(8))
        ).all()
        for row in candidates:
            picked = (
                await session.execute(
                    select(t.c.seq, t.c.ref, t.c.payload)
                    .where(t.c.tenant_id == row.tenant_id, t.c.operation_id == row.id, t.c.status == "pending")
                    .order_by(t.c.seq)
                    .limit(self.chunk_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            op = Operation(row.tenant_id, row.id, row.kind, row.params, row.requested_by)
            if row.state == "queued":
                now = datetime.now(UTC)
                await session.execute(
                    update(ops)
                    .where(ops.c.tenant_id == op.tenant_id, ops.c.id == op.id, ops.c.state == "queued")
                    .values(state="running", started_at=now, updated_at=now)
                )
            if picked or row.state == "queued":
                return op, [Item(r.seq, r.ref, r.payload) for r in picked]
            await self._finish_if_done(session, op)  # its last chunks were committed by other workers
        return None

    async def _record(
        self,
        session: AsyncSession,
        op: Operation,
        items: Sequence[Item],
        results: Sequence[ItemResult],
        elapsed: float,
    ) -> None:
        if len(results) != len(items):
            raise RuntimeError(f"handler of {op.kind} answered {len(results)} results for {len(items)} items")
        ops = self.tables.operations
        now = datetime.now(UTC)
        # One statement for the whole chunk: the results travel as arrays, joined back to the items by seq.
        await session.execute(
            text(
                'UPDATE bulk_items AS i SET status = v.status, error = v.error, "column" = v.col,'
                " result = v.result, processed_at = :now"
                " FROM unnest(CAST(:seqs AS bigint[]), CAST(:statuses AS text[]), CAST(:errors AS text[]),"
                " CAST(:cols AS text[]), CAST(:results AS text[])) AS v(seq, status, error, col, result)"
                " WHERE i.tenant_id = :tenant AND i.operation_id = :op AND i.seq = v.seq"
            ),
            {
                "now": now,
                "tenant": op.tenant_id,
                "op": op.id,
                "seqs": [item.seq for item in items],
                "statuses": ["succeeded" if r.ok else "failed" for r in results],
                "errors": [r.error for r in results],
                "cols": [r.column for r in results],
                "results": [r.result for r in results],
            },
        )
        ok = sum(1 for r in results if r.ok)
        await session.execute(
            update(ops)
            .where(ops.c.tenant_id == op.tenant_id, ops.c.id == op.id)
            .values(
                succeeded=ops.c.succeeded + ok,
                failed=ops.c.failed + (len(results) - ok),
                elapsed_seconds=ops.c.elapsed_seconds + elapsed,
                updated_at=now,
            )
        )

    async def _add_elapsed(self, session: AsyncSession, op: Operation, elapsed: float) -> None:
        ops = self.tables.operations
        await session.execute(
            update(ops)
            .where(ops.c.tenant_id == op.tenant_id, ops.c.id == op.id)
            .values(elapsed_seconds=ops.c.elapsed_seconds + elapsed)
        )

    async def _finish_if_done(self, session: AsyncSession, op: Operation) -> None:
        ops, t = self.tables.operations, self.tables.items
        pending = await session.scalar(
            select(t.c.seq)
            .where(t.c.tenant_id == op.tenant_id, t.c.operation_id == op.id, t.c.status == "pending")
            .limit(1)
        )
        if pending is not None:
            return
        row = (await session.execute(select(ops).where(ops.c.tenant_id == op.tenant_id, ops.c.id == op.id))).one()
        if row.state not in ACTIVE_STATES or row.succeeded + row.failed + row.canceled < row.total:
            return  # another replica holds the last chunk; it finishes the operation
        now = datetime.now(UTC)
        done = (
            await session.execute(
                update(ops)
                .where(ops.c.tenant_id == op.tenant_id, ops.c.id == op.id, ops.c.state.in_(ACTIVE_STATES))
                .values(state="completed_with_errors" if row.failed else "completed", finished_at=now, updated_at=now)
                .returning(*ops.c)
            )
        ).one_or_none()
        if done is not None:
            await self.on_complete(session, self.events, dict(done._mapping))


def progress_view(row: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The state, counts, and progress (done/total, rate in items/s, ETA in seconds) of an operation. The rate is
    per second of wall time since the first chunk was claimed (chunks of several workers and replicas overlap:
    the sum of their durations, `elapsed_seconds`, would count those seconds twice)."""
    done = row["succeeded"] + row["failed"] + row["canceled"]
    processed = row["succeeded"] + row["failed"]
    started, finished = row["started_at"], row["finished_at"]
    elapsed = ((finished or now or datetime.now(UTC)) - started).total_seconds() if started is not None else 0.0
    rate = processed / elapsed if elapsed > 0 else None
    remaining = row["total"] - done
    eta = remaining / rate if rate and row["state"] in ACTIVE_STATES else (0.0 if remaining == 0 else None)
    return {
        "operation_id": row["id"],
        "kind": row["kind"],
        "state": row["state"],
        "requested_by": row["requested_by"],
        "total": row["total"],
        "done": done,
        "succeeded": row["succeeded"],
        "failed": row["failed"],
        "canceled": row["canceled"],
        "rate_per_second": round(rate, 1) if rate else None,
        "eta_seconds": round(eta, 1) if eta is not None else None,
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
    }
