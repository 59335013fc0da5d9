"""Event handlers: Accounting-On/Off closes the NAS's open sessions (idempotent, through the runtime consumer)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import Envelope
from bss_contracts.events.radius import NasAccountingOff, NasAccountingOn
from bss_runtime.consumer import EventConsumer
from bss_runtime.outbox import EventWriter
from radius_ingest.service_layer.session_tracker import apply_nas_reset


def register(consumer: EventConsumer, events: EventWriter) -> None:
    async def on_nas_reset(envelope: Envelope[NasAccountingOn | NasAccountingOff], session: AsyncSession) -> None:
        data = envelope.data
        await apply_nas_reset(
            session,
            events,
            tenant_id=envelope.tenant_id,
            nas_id=data.nas_id,
            nas_ip=data.nas_ip_address,
            reset_at=data.event_time,
            reason=data.reason,
        )

    consumer.on(NasAccountingOn)(on_nas_reset)
    consumer.on(NasAccountingOff)(on_nas_reset)
