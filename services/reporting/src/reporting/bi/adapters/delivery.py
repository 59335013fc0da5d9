"""Delivering reports: email through a real SMTP server and webhook POSTs signed with HMAC-SHA256 (both from
bss_runtime.delivery; re-exported here for the service's other modules).

One try per call: the worker records each try and schedules the next (service_layer/delivery.py).
"""

from __future__ import annotations

import httpx

from bss_runtime.delivery import DeliveryFailed, SmtpMailer, webhook_headers

__all__ = ["DELIVERY_HEADER", "DeliveryFailed", "SmtpMailer", "WebhookSender"]

DELIVERY_HEADER = "X-Report-Delivery-Id"


class WebhookSender:
    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    async def post(self, url: str, body: bytes, *, secret: str, delivery_id: str) -> None:
        # The delivery id is the same on every try: receivers can drop repeats.
        headers = webhook_headers(secret, body) | {DELIVERY_HEADER: delivery_id}
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"webhook {url}: HTTP {response.status_code}")
