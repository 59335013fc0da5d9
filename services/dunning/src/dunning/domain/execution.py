"""The state machine of one execution (a campaign working on one overdue invoice).

    InvoiceOverdue, trigger day reached
        |
        v
    PENDING ----(first step ran)----> IN_PROGRESS <--+
       |                                 |    |       |  step ok, more steps: next = ran + delay
       |                                 |    |       |  step ok, last step: next = none (awaiting payment)
       |                                 |    |       |  step failed, retries left: next = ran + retry interval
       |                                 |    +-------+
       |                                 +-- step failed, no retries left ------------> FAILED
       +---------------------------------+-- balance cleared (payment, credit note) ---> COMPLETED
                                         +-- invoice voided, or canceled by an operator -> CANCELED

`current_step` counts the steps that are finished (succeeded or skipped); the step that runs next is
`current_step + 1`. `retry_count` counts the failed attempts of that step; its attempt number is
`retry_count + 1`. The next step's time is computed from when a step *actually* ran, so after downtime a
due step runs once and the following ones keep their spacing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from dunning.domain.calendar import next_allowed
from dunning.domain.campaigns import SERVICE_ACTIONS, Plan


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


ACTIVE_STATUSES: tuple[ExecutionStatus, ...] = (ExecutionStatus.PENDING, ExecutionStatus.IN_PROGRESS)

AttemptOutcome = Literal["succeeded", "skipped", "failed"]
LogStatus = Literal["succeeded", "skipped", "failed", "retrying"]


class NotActive(Exception):
    """The execution already ended; it cannot be canceled or advanced."""


@dataclass(frozen=True)
class Progress:
    status: ExecutionStatus
    current_step: int
    retry_count: int
    next_action_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def next_step(self) -> int:
        return self.current_step + 1

    @property
    def attempt(self) -> int:
        return self.retry_count + 1


@dataclass(frozen=True)
class Verdict:
    """What one attempt of a step did to the execution, and how the attempt is logged."""

    progress: Progress
    log_status: LogStatus

    @property
    def failed_execution(self) -> bool:
        return self.progress.status is ExecutionStatus.FAILED


def schedule_step(plan: Plan, step_number: int, after: datetime, zone: ZoneInfo) -> datetime:
    """When step `step_number` is due if the step before it (or the start) happened at `after`."""
    action = plan.action(step_number)
    at = after + action.delay
    if action.type in SERVICE_ACTIONS:
        at = next_allowed(plan.exclusions, at, zone)
    return at.astimezone(UTC)


def start(plan: Plan, now: datetime, zone: ZoneInfo) -> Progress:
    return Progress(ExecutionStatus.PENDING, 0, 0, schedule_step(plan, 1, now, zone))


def postponement(plan: Plan, progress: Progress, now: datetime, zone: ZoneInfo) -> datetime | None:
    """If the due step suspends or terminates and today is an excluded day: when it may run instead."""
    if plan.action(progress.next_step).type not in SERVICE_ACTIONS:
        return None
    allowed = next_allowed(plan.exclusions, now, zone)
    return None if allowed == now else allowed.astimezone(UTC)


def after_attempt(plan: Plan, progress: Progress, outcome: AttemptOutcome, now: datetime, zone: ZoneInfo) -> Verdict:
    """The execution after one attempt of its next step, which ran at `now`."""
    if not progress.active:
        raise NotActive(f"execution is {progress.status}")
    if outcome == "failed":
        if progress.retry_count < plan.retry.max_retries:
            retry_at = (now + plan.retry.interval).astimezone(UTC)
            return Verdict(
                Progress(ExecutionStatus.IN_PROGRESS, progress.current_step, progress.retry_count + 1, retry_at),
                "retrying",
            )
        return Verdict(Progress(ExecutionStatus.FAILED, progress.current_step, progress.retry_count, None), "failed")
    finished = progress.next_step
    following = None if finished == plan.total_steps else schedule_step(plan, finished + 1, now, zone)
    return Verdict(Progress(ExecutionStatus.IN_PROGRESS, finished, 0, following), outcome)


def settle(progress: Progress) -> Progress:
    """The balance is cleared: an active execution completes (a finished one keeps its status)."""
    if not progress.active:
        return progress
    return Progress(ExecutionStatus.COMPLETED, progress.current_step, progress.retry_count, None)


def cancel(progress: Progress) -> Progress:
    if not progress.active:
        raise NotActive(f"execution is already {progress.status}")
    return Progress(ExecutionStatus.CANCELED, progress.current_step, progress.retry_count, None)


@dataclass(frozen=True)
class Balance:
    outstanding_minor: int
    recovered_minor: int


def apply_payment(balance: Balance, applied_minor: int, balance_after: int | None) -> Balance:
    """A payment applied to the invoice: billing's balance afterwards is the truth when it sends one."""
    outstanding = balance_after if balance_after is not None else balance.outstanding_minor - applied_minor
    return Balance(max(0, outstanding), balance.recovered_minor + applied_minor)


def apply_credit(balance: Balance, applied_minor: int, balance_after: int | None) -> Balance:
    """A credit note lowers what is owed but is not money recovered."""
    outstanding = balance_after if balance_after is not None else balance.outstanding_minor - applied_minor
    return Balance(max(0, outstanding), balance.recovered_minor)


def apply_paid_in_full(balance: Balance) -> Balance:
    """The invoice is paid: whatever was still outstanding came in (by payments dunning did not see)."""
    return Balance(0, balance.recovered_minor + balance.outstanding_minor)
