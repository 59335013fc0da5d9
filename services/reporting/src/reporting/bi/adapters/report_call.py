"""Run one of the service's own report endpoints in-process, as an HTTP client would, and stream its answer.

A BI execution gets its rows from the very endpoint users call (so each report exists once and an output
always equals the API's answer). The ASGI call is made by hand rather than through httpx's ASGITransport
because that transport gathers the whole body before returning, and a services export can be large: here
each piece of the body is handed to `on_body` as the endpoint writes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message

BodySink = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes  # empty when the body went to `on_body`


async def call_report(
    app: ASGIApp, path: str, query: Mapping[str, str], token: str, on_body: BodySink | None = None
) -> Answer:
    """GET `path?query` with a bearer token. A 200 body goes to `on_body` piece by piece (when given);
    any other answer is kept whole in `Answer.body` (it is an error detail)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": urlencode(query).encode(),
        "headers": [(b"host", b"reporting"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 0),
        "server": ("reporting", 80),
    }
    status = 0
    headers: dict[str, str] = {}
    kept: list[bytes] = []
    finished = asyncio.Event()
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays connected until the whole answer is read
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update((k.decode().lower(), v.decode()) for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if body:
                if status == 200 and on_body is not None:
                    await on_body(body)
                else:
                    kept.append(body)
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    return Answer(status, headers, b"".join(kept))
