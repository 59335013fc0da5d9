"""Sending alert notifications: email through the SMTP server of bss_runtime.delivery and webhook POSTs signed
with its HMAC-SHA256 header. One try per call; the delivery step records each try and schedules the next."""

from __future__ import annotations

import httpx

from bss_runtime.delivery import SIGNATURE_HEADER, DeliveryFailed, Mailer, SmtpMailer

__all__ = ["NOTIFICATION_HEADER", "DeliveryFailed", "Mailer", "SmtpMailer", "WebhookPoster"]

NOTIFICATION_HEADER = "X-Alert-Notification-Id"


class WebhookPoster:
    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    async def post(self, url: str, body: bytes, *, signature: str, notification_id: str) -> None:
        """POST the exact bytes with their signature (made when the notification was owed: `sign_body` of
        bss_runtime.delivery). The notification id is the same on every try: receivers can drop repeats."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            NOTIFICATION_HEADER: notification_id,
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"webhook {url}: HTTP {response.status_code}")
