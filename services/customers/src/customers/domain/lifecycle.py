"""The subscriber lifecycle: which action moves which status where, and what a repeated request means.

    pending --activate--> active --suspend--> suspended --reinstate--> active
    pending | active | suspended --terminate--> terminated (final)

A request whose target is the status the subscriber already has (suspend a suspended subscriber) is a no-op:
nothing changes and nothing is announced. Any other move not in the table is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Action(StrEnum):
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    TERMINATE = "terminate"


# action -> (the statuses it may start from, the status it leads to)
_TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.ACTIVATE: (frozenset({Status.PENDING}), Status.ACTIVE),
    Action.SUSPEND: (frozenset({Status.ACTIVE}), Status.SUSPENDED),
    Action.REINSTATE: (frozenset({Status.SUSPENDED}), Status.ACTIVE),
    Action.TERMINATE: (frozenset({Status.PENDING, Status.ACTIVE, Status.SUSPENDED}), Status.TERMINATED),
}


class Outcome(StrEnum):
    CHANGED = "changed"
    NO_OP = "no_op"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    previous: Status
    status: Status  # the status after the decision (== previous unless changed)
    reason: str | None = None  # why a request was rejected

    @property
    def changed(self) -> bool:
        return self.outcome is Outcome.CHANGED


def target(action: Action) -> Status:
    return _TRANSITIONS[action][1]


def decide(current: Status, action: Action) -> Decision:
    """What `action` does to a subscriber in `current` status."""
    sources, to = _TRANSITIONS[action]
    if current is to:
        return Decision(Outcome.NO_OP, current, current)
    if current in sources:
        return Decision(Outcome.CHANGED, current, to)
    return Decision(Outcome.REJECTED, current, current, f"cannot {action.value} a {current.value} subscriber")
