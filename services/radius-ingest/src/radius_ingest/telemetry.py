"""Counters of the UDP workers, shared with the parent process that serves /metrics.

Each worker counts in plain Python ints (the hot path pays nothing else) and copies them once a second into
its own slice of a shared-memory array; the parent exposes the sums as Prometheus metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

OUTCOMES = (
    "received",  # every datagram
    "answered",  # Accounting-Responses sent (incl. from the reply cache)
    "published",  # records Kafka acknowledged
    "publish_failed",  # records Kafka did not acknowledge in time (request left unanswered)
    "retransmission",  # same source, identifier and authenticator: answered from the reply cache
    "retransmission_in_flight",  # the same, while the first copy waits for Kafka: dropped
    "resend",  # same event (new identifier): answered without publishing again
    "unknown_nas",  # discarded: source address of no NAS client
    "bad_authenticator",  # discarded: Request Authenticator or Message-Authenticator wrong
    "malformed",  # discarded: framing or attribute lengths wrong
    "invalid_accounting",  # discarded: no Acct-Status-Type or values the event contract refuses
    "unsupported_code",  # discarded: not Accounting-Request or Status-Server
    "backpressure",  # discarded: the producer's queue was full
    "status_server",  # Status-Server answered
    "ignored_status",  # acknowledged status types with no event (Failed, Tunnel-*)
    "attributes_skipped",  # Vendor-Specific, unknown or malformed attributes (the packet still counts)
)
GAUGES = ("in_flight", "oldest_in_flight_ms", "listening")  # listening: 1 once the worker's socket serves
SLOTS = len(OUTCOMES) + len(GAUGES)


class Counters:
    """One worker's counts; `flush()` publishes them to the worker's slice of the shared array."""

    def __init__(self, shared: SynchronizedArray[Any] | None = None, index: int = 0) -> None:
        self.values = dict.fromkeys(OUTCOMES + GAUGES, 0)
        self._shared = shared
        self._base = index * SLOTS

    def add(self, outcome: str, amount: int = 1) -> None:
        self.values[outcome] += amount

    def flush(self) -> None:
        if self._shared is not None:
            for offset, name in enumerate(OUTCOMES + GAUGES):
                self._shared[self._base + offset] = self.values[name]

    def highest(self, gauge: str) -> int:
        """The gauge's highest value over every worker (as of their last flush), this one's current value included."""
        value = self.values[gauge]
        if self._shared is not None:
            offset = (OUTCOMES + GAUGES).index(gauge)
            for base in range(0, len(self._shared), SLOTS):
                value = max(value, self._shared[base + offset])
        return value


class WorkerMetrics(Collector):
    """Prometheus view of every worker's slice, summed."""

    def __init__(self, shared: SynchronizedArray[Any], workers: int) -> None:
        self._shared = shared
        self._workers = workers

    def totals(self) -> dict[str, int]:
        values = self._shared[:]
        names = OUTCOMES + GAUGES
        return {name: sum(values[w * SLOTS + i] for w in range(self._workers)) for i, name in enumerate(names)}

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        totals = self.totals()
        requests = CounterMetricFamily("radius_packets", "RADIUS datagrams by outcome", labels=["outcome"])
        for name in OUTCOMES:
            requests.add_metric([name], totals[name])
        yield requests
        yield GaugeMetricFamily("radius_in_flight", "Requests waiting for Kafka", value=totals["in_flight"])
        yield GaugeMetricFamily(
            "radius_workers_listening", "UDP worker processes serving the accounting port", value=totals["listening"]
        )
        oldest = max(self._shared[w * SLOTS + len(OUTCOMES) + 1] for w in range(self._workers))
        yield GaugeMetricFamily(
            "radius_oldest_in_flight_seconds", "Age of the oldest request waiting for Kafka", value=oldest / 1000
        )

    async def ready(self) -> None:
        """A readiness check: every worker serves the accounting port (a NAS's request would be answered)."""
        listening = self.totals()["listening"]
        if listening < self._workers:
            raise RuntimeError(f"{listening} of {self._workers} UDP workers listening")

    def register(self) -> None:
        REGISTRY.register(self)

    def unregister(self) -> None:
        REGISTRY.unregister(self)


class RateLimitedLog:
    """At most one line per reason per `interval` seconds, with how many were suppressed meanwhile."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._log = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, reason: str, source: tuple[str, int], detail: str = "") -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -self._interval) < self._interval:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return
        suppressed = self._suppressed.pop(reason, 0)
        self._last[reason] = now
        self._log.warning(
            "discarded RADIUS packet",
            extra={"reason": reason, "source": f"{source[0]}:{source[1]}", "detail": detail, "suppressed": suppressed},
        )
