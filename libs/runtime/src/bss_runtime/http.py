"""The HTTP side every service shares: health, readiness, metrics, correlation ids, error answers."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bss_runtime import context
from bss_runtime.errors import install_error_handlers
from bss_runtime.telemetry import HTTP_REQUESTS

ReadinessCheck = Callable[[], Awaitable[None]]


def install_common_routes(app: FastAPI, *, service: str, checks: dict[str, ReadinessCheck]) -> None:
    install_error_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}: {exc}"[:300]
        ready = all(v == "ok" for v in results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(CorrelateAndMeasure, service=service)


class CorrelateAndMeasure:
    """Every request runs with a correlation id (its `X-Correlation-ID` when that is a UUID, else a new one),
    answers it in `x-correlation-id`, and is observed in the latency histogram by route and status.

    A plain ASGI middleware: Starlette's `@app.middleware("http")` (BaseHTTPMiddleware) runs each request in
    a task of its own with the body passed through memory streams, which cost more CPU than the rest of a
    small write request (bench/http)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation: uuid.UUID | None = None
        for name, value in scope["headers"]:
            if name == b"x-correlation-id":
                with contextlib.suppress(ValueError):
                    correlation = uuid.UUID(value.decode("latin-1"))
                break
        if correlation is None:
            correlation = uuid.uuid4()
        header = (b"x-correlation-id", str(correlation).encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        started = time.perf_counter()
        try:
            with context.caused_by(correlation=correlation, causation=None):
                await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            HTTP_REQUESTS.labels(
                service=self.service,
                method=scope["method"],
                route=getattr(route, "path", "unmatched"),
                status=str(status),
            ).observe(time.perf_counter() - started)
