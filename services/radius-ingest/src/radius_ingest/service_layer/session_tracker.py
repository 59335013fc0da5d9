"""Open sessions, kept from the service's own session events, closed when their NAS says Accounting-On/Off.

A NAS that reboots (Accounting-On) or goes down (Accounting-Off) sends no Stop for the sessions it had:
this service then publishes a SessionStopped for each of them (through the outbox), with the last counters
it knew, so that consumers need no special case. Session and NAS events travel on different topics, so
either can be read first: a session last heard of before its NAS's latest reset is closed whichever
arrives later. Both paths take the same advisory lock, so they never miss each other.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import DateTime, String, column, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.radius import TERMINATE_CAUSE_OF_RESET, NasResetReason, SessionStopped
from bss_runtime.outbox import EventWriter
from radius_ingest.adapters import repository
from radius_ingest.domain.accounting import event_uuid

STARTED = "bss.radius.session.started"
UPDATED = "bss.radius.session.updated"
STOPPED = "bss.radius.session.stopped"
_LOCK = "radius-ingest:session-tracker"
log = logging.getLogger(__name__)


async def _lock(session: AsyncSession) -> None:
    await session.execute(text("select pg_advisory_xact_lock(hashtext(:key))"), {"key": _LOCK})


def stop_event_id(tenant_id: str, session_key: str, reset_at: datetime) -> uuid.UUID:
    return uuid.UUID(event_uuid(f"{tenant_id}|{session_key}|stopped-by-nas|{int(reset_at.timestamp())}"))


async def _publish_stop(
    session: AsyncSession,
    events: EventWriter,
    tenant_id: str,
    last_event: dict[str, Any],
    reset_at: datetime,
    reason: NasResetReason,
) -> None:
    data = {
        **last_event,
        "event_time": reset_at,
        "terminate_cause": TERMINATE_CAUSE_OF_RESET[reason],
        "closed_by_nas_reset": reason,
    }
    stop = SessionStopped.model_validate(data)
    await events.add(
        session,
        stop,
        tenant_id=tenant_id,
        time=reset_at,
        event_id=stop_event_id(tenant_id, stop.session_key, reset_at),
    )


# One statement records a whole batch: PostgreSQL parses the envelopes (no JSON work in Python), keeps each
# session's newest state, and a Stop closes its session for good.
_UPSERT_BATCH = text("""
WITH parsed AS (
    SELECT seq, e->>'tenant_id' AS tenant_id, e->>'type' AS type, e->'data' AS data,
           (e->'data'->>'event_time')::timestamptz AS event_time
    FROM (SELECT seq, envelope AS e FROM radius_session_batch) AS raw
    WHERE e->>'type' IN (:started, :updated, :stopped)
), latest AS (
    SELECT DISTINCT ON (tenant_id, data->>'session_key')
           tenant_id, data->>'session_key' AS session_key, data, event_time
    FROM parsed ORDER BY tenant_id, data->>'session_key', event_time DESC, seq DESC
), stopped AS (
    SELECT DISTINCT tenant_id, data->>'session_key' AS session_key FROM parsed WHERE type = :stopped
)
INSERT INTO sessions AS s
    (tenant_id, session_key, nas_id, nas_ip_address, username, last_event_time, last_event, closed)
SELECT l.tenant_id, l.session_key, l.data->>'nas_id', l.data->>'nas_ip_address', l.data->>'username', l.event_time,
       l.data, stopped.session_key IS NOT NULL
FROM latest AS l LEFT JOIN stopped USING (tenant_id, session_key)
ON CONFLICT (tenant_id, session_key) DO UPDATE SET
    last_event_time = GREATEST(s.last_event_time, excluded.last_event_time),
    last_event = CASE WHEN excluded.last_event_time >= s.last_event_time THEN excluded.last_event ELSE s.last_event END,
    closed = s.closed OR excluded.closed,
    updated_at = now()
""")
# Sessions of this batch still open although their NAS was reset after they were last heard of.
_CUT_BY_RESET = text("""
SELECT s.tenant_id, s.session_key, s.last_event, r.reset_at, r.reason
FROM sessions AS s
JOIN nas_resets AS r ON (r.tenant_id, r.nas_id, r.nas_ip_address) = (s.tenant_id, s.nas_id, s.nas_ip_address)
WHERE NOT s.closed AND s.last_event_time <= r.reset_at
  AND (s.tenant_id, s.session_key) IN (
      SELECT e->>'tenant_id', e->'data'->>'session_key'
      FROM (SELECT envelope AS e FROM radius_session_batch) AS raw
      WHERE e->>'type' IN (:started, :updated))
ORDER BY s.tenant_id, s.session_key
FOR UPDATE OF s
""").columns(
    column("tenant_id", String), column("session_key", String), column("last_event", JSONB),
    column("reset_at", DateTime(timezone=True)), column("reason", String),
)  # fmt: skip
_BATCH_TABLE = text(
    "CREATE TEMPORARY TABLE IF NOT EXISTS radius_session_batch (seq bigint, envelope jsonb) ON COMMIT DELETE ROWS"
)
_TYPES = {"started": STARTED, "updated": UPDATED, "stopped": STOPPED}


async def apply_session_events(session: AsyncSession, events: EventWriter, envelopes: list[str]) -> int:
    """Record a batch of session envelopes (JSON text, in partition order); returns Stops synthesised."""
    if not envelopes:
        return 0
    await _lock(session)
    await session.execute(_BATCH_TABLE)
    raw = await (await session.connection()).get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        "radius_session_batch", records=list(enumerate(envelopes)), columns=["seq", "envelope"]
    )
    await session.execute(_UPSERT_BATCH, _TYPES)
    cut = (await session.execute(_CUT_BY_RESET, _TYPES)).all()
    for row in cut:
        reason = cast(NasResetReason, row.reason)
        await _publish_stop(session, events, row.tenant_id, row.last_event, row.reset_at, reason)
        await repository.close_sessions(session, row.tenant_id, [row.session_key])
    return len(cut)


async def apply_nas_reset(
    session: AsyncSession,
    events: EventWriter,
    *,
    tenant_id: str,
    nas_id: str,
    nas_ip: str,
    reset_at: datetime,
    reason: NasResetReason,
) -> int:
    """Accounting-On/Off: close every session of that NAS last heard of before it; returns how many."""
    await _lock(session)
    await repository.record_reset(session, tenant_id, nas_id, nas_ip, reset_at, reason)
    rows = await repository.open_sessions_before(session, tenant_id, nas_id, nas_ip, reset_at)
    for row in rows:
        await _publish_stop(session, events, tenant_id, row.last_event, reset_at, reason)
    await repository.close_sessions(session, tenant_id, [row.session_key for row in rows])
    return len(rows)
