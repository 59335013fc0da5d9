"""Delivering to the outside world: email through a real SMTP server, HMAC-signed webhook bodies, and the
failure both report to the step that tried them. Retry policies differ per service and stay there."""

from __future__ import annotations

import hashlib
import hmac
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SIGNATURE_HEADER = "X-Signature-SHA256"


class DeliveryFailed(Exception):
    """A delivery (SMTP, webhook, SMS gateway) was not accepted; `tries` is how many were made."""

    def __init__(self, message: str, *, tries: int = 1) -> None:
        super().__init__(message)
        self.tries = tries


def sign_body(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the exact body bytes; receivers recompute it and compare in constant time."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(secret: str, body: bytes) -> dict[str, str]:
    """Headers of a signed JSON POST; the sender adds its own delivery-id header."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign_body(secret, body)}


class SmtpSettings(BaseSettings):
    """SMTP settings a service's Settings inherit (same env names everywhere); it sets its own `mail_from`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS")
    smtp_use_tls: bool = Field(default=False, description="Implicit TLS (SMTPS, usually port 465)")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "ISP <noreply@isp.example>"


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system; raise DeliveryFailed if it was not accepted."""
        ...


class SmtpMailer:
    """One SMTP conversation per message (aiosmtplib); any refusal or network error is a DeliveryFailed."""

    def __init__(self, settings: SmtpSettings) -> None:
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
