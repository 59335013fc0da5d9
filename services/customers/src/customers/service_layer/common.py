"""Small helpers the use cases share."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from bss_runtime.errors import Conflict


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def conflict(exc: IntegrityError, messages: dict[str, tuple[str, str]]) -> Exception:
    """Turn a unique-constraint violation into a 409 naming the field (`messages`: constraint -> (field, msg))."""
    text = str(exc.orig)
    for constraint, (field, message) in messages.items():
        if constraint in text:
            return Conflict(message, field=field)
    return exc
