"""`python -m <service>`: uvicorn on the service's host and port, in one process or in several.

With `HTTP_WORKERS=N` (N > 1) uvicorn's supervisor starts N processes that accept on the one listening socket
(the kernel hands each new connection to one of them) and restarts one that dies. Each process is the whole
service (`app_factory` is called in each): its own database pool, its consumers in the service's group (the
partitions are shared out), its outbox relay (one active per database, the others hot standbys: the relay's
advisory lock) and its background workers; migrations run once (`bss_runtime.migrations` takes a lock). So
only a service whose background workers may run in several processes at once should set it.
"""

from __future__ import annotations

import uvicorn

from bss_runtime.settings import ServiceSettings


def serve(app_factory: str, settings: ServiceSettings) -> None:
    """Serve `app_factory` ("package.module:function", called with no arguments in each server process)."""
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.http_workers,
        log_config=None,
        access_log=False,
    )
