"""`python -m support`: the service on settings.http_host:settings.http_port."""

from __future__ import annotations

import uvicorn

from bss_runtime.settings import ensure_safe_to_serve
from bss_runtime.telemetry import configure_logging
from support.config import Settings
from support.entrypoints.app import create_app


def main() -> None:
    settings = Settings()
    ensure_safe_to_serve(settings)
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
