"""Webhook actions: a JSON POST signed with HMAC-SHA256, retried a few times with backoff, with an idempotency key."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import httpx

from bss_runtime.delivery import DeliveryFailed, webhook_headers

DELIVERY_HEADER = "X-Dunning-Delivery-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"  # the same value: the header receivers' idempotency support looks for


@dataclass(frozen=True)
class WebhookResponse:
    status_code: int
    tries: int


class WebhookSender(Protocol):
    async def post(self, url: str, body: bytes, *, secret: str, delivery_id: str) -> WebhookResponse:
        """POST until a 2xx answer; raise DeliveryFailed after the last try."""
        ...


class HttpWebhookSender:
    def __init__(self, *, timeout_seconds: float, attempts: int, backoff_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._attempts = attempts
        self._backoff = backoff_seconds

    async def post(self, url: str, body: bytes, *, secret: str, delivery_id: str) -> WebhookResponse:
        # The delivery id is the same on every try, and on a call repeated after a crash: receivers drop repeats.
        headers = webhook_headers(secret, body) | {DELIVERY_HEADER: delivery_id, IDEMPOTENCY_HEADER: delivery_id}
        last_error = ""
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
            for attempt in range(1, self._attempts + 1):
                try:
                    response = await client.post(url, content=body, headers=headers)
                    if response.is_success:
                        return WebhookResponse(response.status_code, attempt)
                    last_error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                if attempt < self._attempts:
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise DeliveryFailed(f"webhook {url}: {last_error} after {self._attempts} tries", tries=self._attempts)
