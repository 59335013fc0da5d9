"""Correlation and causation ids of the work in progress, carried across awaits by contextvars."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

correlation_id: ContextVar[UUID | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[UUID | None] = ContextVar("causation_id", default=None)
tenant_id: ContextVar[str | None] = ContextVar("tenant_id", default=None)


@contextmanager
def caused_by(*, correlation: UUID | None, causation: UUID | None, tenant: str | None = None) -> Iterator[None]:
    """Events written inside this block belong to `correlation` and were caused by `causation`."""
    tokens = (correlation_id.set(correlation), causation_id.set(causation), tenant_id.set(tenant))
    try:
        yield
    finally:
        correlation_id.reset(tokens[0])
        causation_id.reset(tokens[1])
        tenant_id.reset(tokens[2])
