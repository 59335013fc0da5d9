"""`python -m radius_ingest`: the HTTP API on settings.http_host:http_port, the UDP accounting workers on
settings.radius_host:radius_port, the session tracker and the outbox relay."""

from __future__ import annotations

import uvicorn

from bss_runtime.settings import ensure_safe_to_serve
from bss_runtime.telemetry import configure_logging
from radius_ingest.config import Settings
from radius_ingest.entrypoints.app import create_app


def main() -> None:
    settings = Settings()
    ensure_safe_to_serve(settings)
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
