"""The HTTP side every service shares: health, readiness, metrics, correlation ids, error answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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

    @app.middleware("http")
    async def correlate_and_measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            correlation = uuid.UUID(request.headers.get("x-correlation-id", ""))
        except ValueError:
            correlation = uuid.uuid4()
        started = time.perf_counter()
        with context.caused_by(correlation=correlation, causation=None):
            response = await call_next(request)
        route = request.scope.get("route")
        HTTP_REQUESTS.labels(
            service=service,
            method=request.method,
            route=getattr(route, "path", "unmatched"),
            status=str(response.status_code),
        ).observe(time.perf_counter() - started)
        response.headers["x-correlation-id"] = str(correlation)
        return response
