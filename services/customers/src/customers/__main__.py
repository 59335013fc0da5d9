"""`python -m customers`: the service on settings.http_host:settings.http_port, in settings.http_workers
processes (`bss_runtime.serve`)."""

from __future__ import annotations

from fastapi import FastAPI

from bss_runtime.serve import serve
from bss_runtime.settings import ensure_safe_to_serve
from bss_runtime.telemetry import configure_logging
from customers.config import Settings
from customers.entrypoints.app import create_app


def app() -> FastAPI:
    """The app of one server process (each worker process builds its own)."""
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level)
    return create_app(settings)


def main() -> None:
    settings = Settings()
    ensure_safe_to_serve(settings)
    configure_logging(settings.service_name, settings.log_level)
    serve("customers.__main__:app", settings)


if __name__ == "__main__":
    main()
