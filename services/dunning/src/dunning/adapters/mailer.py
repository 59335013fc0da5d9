"""Email notices: the message a step sends. Sending it is bss_runtime.delivery's SmtpMailer (a real SMTP server)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime


def build_email(
    *, sender: str, recipient: str, subject: str, text: str, html: str | None, message_id: str, date: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message
