"""Rule kinds, their parameters (a JSON Schema per kind) and a new tenant's default rules.

Every kind compares one measured value per subject with the rule's threshold; the condition holds when the
value is above it (`>`), or for `sla_breaches` and `consumer_lag` at or above it (`>=` N breaches; lag of N
events). Percent drops and growths are `(before - now) / before * 100` and `(now - before) / before * 100`; a
`before` of zero gives no value (nothing to drop from), so no alert.

Defaults (seed 003's thresholds): revenue (MRR) drop > 10 %, logo churn > 5 %, usage drop > 20 %: a rule of these
kinds created without `threshold_percent` gets them, and POST /alerts/rules/defaults creates the three rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from jsonschema import Draft202012Validator


class RuleKind(StrEnum):
    MRR_DROP = "mrr_drop"
    LOGO_CHURN = "logo_churn"
    USAGE_DROP = "usage_drop"
    NAS_CONCURRENCY = "nas_concurrency"
    AR_90_GROWTH = "ar_90_growth"
    SLA_BREACHES = "sla_breaches"
    DEAD_LETTERS = "dead_letters"
    CONSUMER_LAG = "consumer_lag"


_PERCENT = {"type": "number", "exclusiveMinimum": 0, "maximum": 1000}
_HOURS = {"type": "integer", "minimum": 1, "maximum": 24 * 31}

# What applied events can move each kind's measure (the rest, dead letters and consumer lag, are read from the
# broker: evaluated on their schedule only).
EventSource = Literal["sessions", "subscriptions", "invoices", "sla"]
MOVED_BY: dict[EventSource, tuple[RuleKind, ...]] = {
    "sessions": (RuleKind.USAGE_DROP, RuleKind.NAS_CONCURRENCY),
    "subscriptions": (RuleKind.MRR_DROP, RuleKind.LOGO_CHURN),
    "invoices": (RuleKind.AR_90_GROWTH,),
    "sla": (RuleKind.SLA_BREACHES,),
}

PARAMETER_SCHEMAS: dict[RuleKind, dict[str, Any]] = {
    RuleKind.MRR_DROP: {
        "description": "MRR (per currency) at the end of today is more than threshold_percent below the MRR of "
        "the same day of the previous month.",
        "properties": {"threshold_percent": _PERCENT | {"default": 10}},
        "required": [],
    },
    RuleKind.LOGO_CHURN: {
        "description": "Paying customers lost since the start of the month (churn movements), as a percent of "
        "the paying customers at its start, per currency.",
        "properties": {"threshold_percent": _PERCENT | {"default": 5}},
        "required": [],
    },
    RuleKind.USAGE_DROP: {
        "description": "Bytes (in + out) of the last window_hours whole hours are more than threshold_percent "
        "below the same hours one week earlier (same weekday last week): for the tenant, or per NAS.",
        "properties": {
            "threshold_percent": _PERCENT | {"default": 20},
            "scope": {"enum": ["tenant", "nas"], "default": "tenant"},
            "window_hours": _HOURS | {"default": 24},
        },
        "required": [],
    },
    RuleKind.NAS_CONCURRENCY: {
        "description": "The exact peak of concurrent sessions on a NAS over the last window_hours hours (the "
        "current hour included), as a percent of the NAS's configured capacity "
        "(PUT /alerts/nas-capacities/{nas_id}); NASes without a capacity are not measured.",
        "properties": {"threshold_percent": _PERCENT, "window_hours": _HOURS},
        "required": ["threshold_percent"],
    },
    RuleKind.AR_90_GROWTH: {
        "description": "Receivables more than 90 days past due (per currency) grew by more than "
        "threshold_percent over the last lookback_days.",
        "properties": {
            "threshold_percent": _PERCENT,
            "lookback_days": {"type": "integer", "minimum": 1, "maximum": 366},
        },
        "required": ["threshold_percent"],
    },
    RuleKind.SLA_BREACHES: {
        "description": "At least `count` SLA breaches detected in the last period_hours.",
        "properties": {"count": {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "period_hours": _HOURS},
        "required": ["count"],
    },
    RuleKind.DEAD_LETTERS: {
        "description": "A dead-letter topic (<topic>.dlq of the topic registry) holds records: one alert per "
        "topic. The broker is shared by every tenant, so this is an operator's rule.",
        "properties": {},
        "required": [],
    },
    RuleKind.CONSUMER_LAG: {
        "description": "A service's consumer group is more than max_lag events behind on the registry topics; "
        "with the rule's for_seconds, 'above N for T minutes'.",
        "properties": {"max_lag": {"type": "integer", "minimum": 0, "maximum": 10**12}},
        "required": ["max_lag"],
    },
}

DEFAULTS: dict[RuleKind, dict[str, Any]] = {
    RuleKind.MRR_DROP: {"threshold_percent": 10},
    RuleKind.LOGO_CHURN: {"threshold_percent": 5},
    RuleKind.USAGE_DROP: {"threshold_percent": 20, "scope": "tenant", "window_hours": 24},
    RuleKind.NAS_CONCURRENCY: {"window_hours": 1},
    RuleKind.AR_90_GROWTH: {"lookback_days": 30},
    RuleKind.SLA_BREACHES: {"period_hours": 24},
}


def schema_of(kind: RuleKind) -> dict[str, Any]:
    """The full JSON Schema of a kind's `parameters` (no other keys allowed)."""
    return {"type": "object", "additionalProperties": False} | PARAMETER_SCHEMAS[kind]


@dataclass(frozen=True)
class ParameterError(Exception):
    field: str
    message: str


def check_parameters(kind: RuleKind, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters with the kind's defaults filled in; ParameterError naming the first bad field."""
    validator = Draft202012Validator(schema_of(kind))
    errors = sorted(validator.iter_errors(parameters), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        name = ".".join(str(p) for p in error.absolute_path)
        if not name and error.validator == "required":
            name = str(error.message.split("'")[1])
        if not name and error.validator == "additionalProperties":
            extra = sorted(set(parameters) - set(PARAMETER_SCHEMAS[kind]["properties"]))
            name = extra[0] if extra else ""
        raise ParameterError(name, error.message[:300])
    return DEFAULTS.get(kind, {}) | parameters


def threshold(kind: RuleKind, parameters: dict[str, Any]) -> float:
    if kind is RuleKind.SLA_BREACHES:
        return float(parameters["count"])
    if kind is RuleKind.CONSUMER_LAG:
        return float(parameters["max_lag"])
    if kind is RuleKind.DEAD_LETTERS:
        return 0.0
    return float(parameters["threshold_percent"])


def holds(kind: RuleKind, value: float, limit: float) -> bool:
    """Whether a measured value breaks the rule's threshold."""
    if kind is RuleKind.SLA_BREACHES:
        return value >= limit
    return value > limit


def percent_drop(before: int, now: int) -> float | None:
    return None if before <= 0 else (before - now) * 100.0 / before


def percent_growth(before: int, now: int) -> float | None:
    return None if before <= 0 else (now - before) * 100.0 / before


@dataclass(frozen=True)
class DefaultRule:
    name: str
    kind: RuleKind
    parameters: dict[str, Any]
    severity: str
    for_seconds: int


# Seed 003's thresholds; a new tenant gets these from POST /alerts/rules/defaults.
DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule("Monthly revenue declined by >10%", RuleKind.MRR_DROP, {"threshold_percent": 10}, "high", 0),
    DefaultRule("Monthly churn rate above 5%", RuleKind.LOGO_CHURN, {"threshold_percent": 5}, "medium", 0),
    DefaultRule(
        "Usage declined by >20% vs last week",
        RuleKind.USAGE_DROP,
        {"threshold_percent": 20, "scope": "nas", "window_hours": 24},
        "medium",
        0,
    ),
)
