"""Event handlers: suspension, reinstatement and termination requests (from dunning) applied to subscribers.

The runtime records each event as processed in the same transaction, so a redelivered event has no second
effect; the events a handler stages carry the request event as their causation.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import Envelope
from bss_runtime.consumer import EventConsumer
from bss_runtime.outbox import EventWriter
from customers.service_layer.subscribers import REQUEST_ACTIONS, Request, handle_request


def register(consumer: EventConsumer, events: EventWriter) -> None:
    async def on_request(event: Envelope[Request], session: AsyncSession) -> None:
        await handle_request(session, events, event)

    for model in REQUEST_ACTIONS:
        consumer.on(model)(on_request)
