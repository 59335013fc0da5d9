"""Real loopback receivers for delivery tests: an SMTP server (aiosmtpd) and a webhook endpoint, both keeping
what they received so tests assert the exact messages and bytes."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

SIGNATURE_HEADER = "x-signature-sha256"  # bss_runtime.delivery.SIGNATURE_HEADER, as the receiver lowers it


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpInbox:
    """The aiosmtpd handler: every accepted message, parsed, and its envelope."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) of each message

    @property
    def recipients(self) -> list[list[str]]:
        return [rcpt_tos for _, rcpt_tos in self.envelopes]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpServer:
    """An aiosmtpd server on loopback keeping what it received; `stop()` makes mail 'down' (the port refuses)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox = SmtpInbox()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    def to(self, recipient: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == recipient]


@dataclass
class WebhookReceiver:
    """A loopback HTTP server answering POSTs with the queued status codes (then 200), keeping each request
    as (lower-cased headers, body). Call `close()` when done."""

    secret: str
    fail_with: list[int] = field(default_factory=list)
    path: str = "/hook"
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.fail_with.pop(0) if receiver.fail_with else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def signed(self, headers: dict[str, str], body: bytes) -> bool:
        """Whether the request carries the HMAC-SHA256 of exactly these body bytes under `secret`."""
        expected = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get(SIGNATURE_HEADER, ""), expected)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
