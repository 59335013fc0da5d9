"""The payload every service's `BulkOperationCompleted` carries (each service has its own type and topic)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from bss_contracts.envelope import DomainEvent


class BulkOperationOutcome(DomainEvent):
    """A bulk operation finished: `state` is completed, completed_with_errors or canceled."""

    key_field = "operation_id"

    operation_id: str
    kind: str
    state: Literal["completed", "completed_with_errors", "canceled", "failed"]
    total: int
    succeeded: int
    failed: int
    canceled: int
    requested_by: str
    finished_at: AwareDatetime
