"""Delivering reports: email through a real SMTP server (aiosmtplib), webhook POSTs signed with HMAC-SHA256.

One try per call: the worker records each try and schedules the next (service_layer/bi_delivery.py).
"""

from __future__ import annotations

import hashlib
import hmac
from email.message import EmailMessage

import aiosmtplib
import httpx

from reporting.config import Settings

SIGNATURE_HEADER = "X-Signature-SHA256"
DELIVERY_HEADER = "X-Report-Delivery-Id"


class DeliveryFailed(Exception):
    pass


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the exact body bytes; receivers recompute it and compare in constant time."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls,
                use_tls=s.smtp_use_tls,
                timeout=s.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"SMTP {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}: {exc}") from exc


class WebhookSender:
    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    async def post(self, url: str, body: bytes, *, secret: str, delivery_id: str) -> None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body),
            DELIVERY_HEADER: delivery_id,  # the same on every try: receivers can drop repeats
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"webhook {url}: HTTP {response.status_code}")
