"""Structured JSON logs carrying correlation ids, and the Prometheus metrics the runtime keeps."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from bss_runtime import context

EVENTS_PUBLISHED = Counter("bss_events_published_total", "Events published by the outbox relay", ["service", "topic"])
EVENTS_CONSUMED = Counter("bss_events_consumed_total", "Events consumed, by outcome", ["service", "topic", "outcome"])
DEAD_LETTERS = Counter("bss_dead_letters_total", "Messages sent to a dead-letter topic", ["service", "topic", "reason"])
OUTBOX_PENDING = Gauge("bss_outbox_pending", "Outbox rows not yet published", ["service"])
HTTP_REQUESTS = Histogram("bss_http_request_seconds", "HTTP request latency", ["service", "method", "route", "status"])

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the current ids, and any `extra=` fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (cid := context.correlation_id.get()) is not None:
            entry["correlation_id"] = str(cid)
        if (caus := context.causation_id.get()) is not None:
            entry["causation_id"] = str(caus)
        if (tenant := context.tenant_id.get()) is not None:
            entry["tenant_id"] = tenant
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
