"""What a failed delivery (SMTP, webhook, SMS gateway) reports to the step that tried it."""

from __future__ import annotations


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, tries: int = 1) -> None:
        super().__init__(message)
        self.tries = tries
