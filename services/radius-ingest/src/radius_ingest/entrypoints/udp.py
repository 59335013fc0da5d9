"""The UDP worker processes: N processes (default: one per core) each bind the accounting port with
SO_REUSEPORT, so the kernel spreads NAS over them by source address and port (a NAS's retransmissions reach
the worker that holds its reply cache). Each has its own event loop (uvloop), Kafka producer and NAS table.

The parent process (HTTP API, tracker, outbox relay) supervises them: `UdpWorkers.run` starts them,
restarts one that dies, and stops them all when the service stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import time
from collections.abc import Callable
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

import uvloop

from bss_runtime.db import Database
from bss_runtime.telemetry import configure_logging
from radius_ingest.adapters import native, repository
from radius_ingest.adapters.kafka import KafkaPublisher, producer_config
from radius_ingest.config import Settings
from radius_ingest.domain.accounting import ATTRIBUTES_READ
from radius_ingest.domain.nas import NasDirectory
from radius_ingest.entrypoints.processes import SPAWN, ProcessGroup, parent_gone, watch_parent
from radius_ingest.protocol.dictionary import RadiusDictionary
from radius_ingest.protocol.packet import AttributeDecoder
from radius_ingest.server import AccountingServer
from radius_ingest.telemetry import SLOTS, Counters, WorkerMetrics

log = logging.getLogger(__name__)
_SOCKET_BUFFER = 8 * 1024 * 1024


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):  # capped by net.core.[rw]mem_max; a bigger buffer only absorbs bursts
            sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


async def _refresh_clients(
    apply: Callable[[NasDirectory], None], database: Database, every: float, stop: asyncio.Event
) -> None:
    version: tuple[Any, ...] | None = None
    while not stop.is_set():
        try:
            async with database.engine.connect() as conn:
                current = await repository.clients_version(conn)
                if current != version:
                    apply(NasDirectory(await repository.all_clients(conn)))
                    version = current
        except Exception:
            log.warning("could not reload NAS clients; keeping the ones loaded", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def serve(settings: Settings, index: int, shared: SynchronizedArray[Any] | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    watch_parent(stop)
    counters = Counters(shared, index)
    counters.flush()  # a restarted worker's slice starts again from zero: not listening yet
    database = Database(settings.database_url, pool_size=1)
    async with database.engine.connect() as conn:
        directory = NasDirectory(await repository.all_clients(conn))
    server = AccountingServer(
        directory=directory,
        decoder=AttributeDecoder(RadiusDictionary.load(settings.radius_dictionary_dir), ATTRIBUTES_READ),
        source=f"/services/{settings.service_name}",
        counters=counters,
        reply_cache_seconds=settings.reply_cache_seconds,
        unhealthy_after_seconds=settings.unhealthy_after_seconds,
    )
    config = producer_config(
        settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-udp-{index}",
        linger_ms=settings.kafka_linger_ms,
        delivery_timeout_ms=settings.kafka_delivery_timeout_ms,
        compression=settings.kafka_compression,
    )
    sock = bind_socket(settings.radius_host, settings.radius_port)
    fast = _fast_path(settings, server) if sock.family == socket.AF_INET else None
    publisher: KafkaPublisher | native.NativePublisher
    if fast is not None and native.start_producer(fast, config, settings.kafka_topic_prefix):
        publisher = native.NativePublisher(fast, loop=loop, on_delivered=server.delivered)
    else:
        publisher = KafkaPublisher(
            config, topic_prefix=settings.kafka_topic_prefix, loop=loop, on_delivered=server.delivered
        )
    server.publisher = publisher
    transport: asyncio.BaseTransport | native.NativeEndpoint
    if fast is None:
        transport, _ = await loop.create_datagram_endpoint(lambda: server, sock=sock)
    else:
        fast.set_clients(native.client_rows(directory.clients))
        transport = native.NativeEndpoint(sock, fast, server, loop, time.time)

    def apply(directory: NasDirectory) -> None:
        server.directory = directory
        if fast is not None:
            fast.set_clients(native.client_rows(directory.clients))

    refresher = asyncio.create_task(_refresh_clients(apply, database, settings.nas_refresh_seconds, stop))
    log.info("accounting worker listening",
             extra={"worker": index, "port": settings.radius_port, "native": fast is not None,
                    "native_producer": isinstance(publisher, native.NativePublisher)})  # fmt: skip
    counters.values["listening"] = 1
    counters.flush()
    parent = os.getppid()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            if parent_gone(parent):  # the supervisor was killed: do not linger as an orphan
                stop.set()
            server.expire()
            counters.flush()
    finally:
        transport.close()  # no new requests; those in flight are still answered when Kafka acknowledges
        counters.values["listening"] = 0
        left = await publisher.close(timeout=10.0)
        if left:
            log.warning("stopped with records unacknowledged; their NAS will retransmit", extra={"left": left})
        await refresher
        await database.close()
        server.expire()
        counters.flush()


def _fast_path(settings: Settings, server: AccountingServer) -> Any:
    """The native hot path, unless turned off or not usable here (then the Python reference path serves)."""
    if not settings.radius_native:
        return None
    try:
        return native.fast_path(server.dictionary, server.source)
    except (ImportError, ValueError) as exc:
        log.warning("native accounting path unavailable; serving with the Python path", extra={"reason": str(exc)})
        return None


def worker_main(settings: Settings, index: int, shared: SynchronizedArray[Any] | None) -> None:
    """Entry point of one worker process."""
    configure_logging(f"{settings.service_name}-udp-{index}", settings.log_level)
    # The hot path allocates short-lived tuples by the hundred thousand and makes no reference cycles: with
    # the default thresholds the cycle collector ran every 700 allocations and cost a tenth of the worker's CPU.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    uvloop.run(serve(settings, index, shared))


class UdpWorkers:
    """The worker processes; their counters feed this process's /metrics."""

    def __init__(self, settings: Settings) -> None:
        self.count = settings.radius_workers
        self.shared: SynchronizedArray[Any] = SPAWN.Array("q", SLOTS * self.count, lock=False)  # type: ignore[assignment]
        self.metrics = WorkerMetrics(self.shared, self.count)
        self._group = ProcessGroup("radius-udp", self.count, worker_main, lambda i: (settings, i, self.shared))

    async def run(self, stop: asyncio.Event) -> None:
        self.metrics.register()
        try:
            await self._group.run(stop)
        finally:
            self.metrics.unregister()
