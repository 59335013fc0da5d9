"""SMS notices through a pluggable sender.

No SMS gateway exists in this system: the default sender hands nothing to a network. Every SMS step writes
a NotificationRequested(channel="sms") event with the rendered text, which is the record of the notice and
what an SMS gateway integration consumes. A real gateway plugs in as another `SmsSender`.
"""

from __future__ import annotations

from typing import Protocol


class SmsSender(Protocol):
    async def send(self, *, to: str, body: str, message_id: str) -> str | None:
        """Send one SMS; returns the gateway's id for it (None if there is none); raises DeliveryFailed."""
        ...


class EventOnlySmsSender:
    """The default: the NotificationRequested event the step writes is the whole delivery."""

    async def send(self, *, to: str, body: str, message_id: str) -> str | None:
        return None
