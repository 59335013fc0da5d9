"""Outbound delivery plumbing the services share: SMTP sending against a real server, webhook signing."""

from __future__ import annotations

import hashlib
import hmac
from email.message import EmailMessage

import httpx
import pytest

from bss_runtime.delivery import DeliveryFailed, SmtpMailer, SmtpSettings, sign_body, webhook_headers
from bss_testkit.receivers import SmtpServer, WebhookReceiver, free_port


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Billing <billing@isp.example>"
    message["To"] = "ada@example.net"
    message["Subject"] = "Invoice INV-1 is overdue"
    message.set_content("Please pay 49.99 EUR.")
    return message


async def test_the_mailer_hands_the_message_to_a_real_smtp_server() -> None:
    server = SmtpServer().start()
    try:
        await SmtpMailer(SmtpSettings(smtp_port=server.port)).send(_message())
    finally:
        server.stop()
    [received] = server.to("ada@example.net")
    assert received["Subject"] == "Invoice INV-1 is overdue"
    assert received.get_content() == "Please pay 49.99 EUR.\r\n"  # as it crossed the wire
    assert server.inbox.envelopes == [("billing@isp.example", ["ada@example.net"])]


async def test_smtp_down_is_a_delivery_failure_naming_the_server() -> None:
    port = free_port()  # nothing listens here
    with pytest.raises(DeliveryFailed, match=rf"^SMTP 127\.0\.0\.1:{port}: ") as failure:
        await SmtpMailer(SmtpSettings(smtp_port=port, smtp_timeout_seconds=2)).send(_message())
    assert failure.value.tries == 1


def test_smtp_settings_come_from_the_plain_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_HOST", "mail.isp.example")
    monkeypatch.setenv("SMTP_PORT", "465")
    monkeypatch.setenv("SMTP_USE_TLS", "true")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    settings = SmtpSettings()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_use_tls) == ("mail.isp.example", 465, True)
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "hunter2"


def test_the_signature_is_the_hex_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"invoice_id":"inv-1","balance_minor":4999}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign_body("s3cret", body) == expected
    assert webhook_headers("s3cret", body) == {"Content-Type": "application/json", "X-Signature-SHA256": expected}


async def test_a_signed_post_passes_the_receivers_check_and_a_changed_body_does_not() -> None:
    receiver = WebhookReceiver("s3cret", fail_with=[503], path="/hooks/dunning")
    body = b'{"event":"overdue"}'
    try:
        async with httpx.AsyncClient() as client:
            first = await client.post(receiver.url, content=body, headers=webhook_headers("s3cret", body))
            second = await client.post(receiver.url, content=body, headers=webhook_headers("other", body))
    finally:
        receiver.close()
    assert (first.status_code, second.status_code) == (503, 200)
    assert receiver.url.endswith("/hooks/dunning") and receiver.bodies() == [{"event": "overdue"}] * 2
    (headers, received), (wrong_headers, _) = receiver.requests
    assert received == body and receiver.signed(headers, received)
    assert not receiver.signed(headers, received + b" ") and not receiver.signed(wrong_headers, received)
