"""The BI module's rules: which reports a template can run, who may do what, parameters, recurrence.

Pure: no I/O. The data sources are the six reports of this service (their HTTP endpoints); a template names
one of them, and an execution calls that endpoint, so a BI output always equals what the API answers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
from cronsim import CronSim, CronSimError

from bss_runtime.auth import Principal, Role
from bss_runtime.errors import DomainError
from reporting.bi.domain.relative_dates import DateKind, resolve_all


class ReportType(StrEnum):
    FINANCIAL = "financial"
    COLLECTIONS = "collections"
    OPERATIONS = "operations"
    SUPPORT = "support"


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


OUTPUT_FORMATS = ("csv", "json", "xlsx", "parquet", "html", "txt", "pdf")
EXTENSIONS = {f: f for f in OUTPUT_FORMATS}


@dataclass(frozen=True)
class Source:
    """One report of the API, as a data source: where it is, who may see it, which query parameters it takes."""

    path: str
    roles: frozenset[str]
    parameters: frozenset[str]
    rows_key: str | None = None  # a paged answer: the rows are under this key (else the answer is the rows)
    timestamps: frozenset[str] = frozenset()  # ISO date-time columns, typed in xlsx and Parquet
    native_formats: frozenset[str] = frozenset()  # formats the endpoint writes itself (`format=` parameter)
    # An answer that is one object (not paged): "currencies" = its rows are answer["currencies"]; "periods" =
    # one row per period and currency (the period's start and end, then that currency's figures); any other key:
    # the rows are that list of the answer ("peaks" of the concurrency report).
    unwrap: str | None = None


_FINANCE, _COLLECTIONS, _OPS, _SUPPORT = Role.FINANCE.value, Role.COLLECTIONS.value, Role.OPS.value, Role.SUPPORT.value

# The roles are those the endpoints enforce (entrypoints/api.py); a test checks they agree.
SOURCES: dict[str, Source] = {
    "blocked-customers": Source(
        "/billing/reports/blocked-customers",
        frozenset({_FINANCE, _COLLECTIONS, _SUPPORT}),
        frozenset({"min_days_blocked", "max_days_blocked", "include_zero_balance"}),
        timestamps=frozenset({"suspended_at"}),
    ),
    "aging/by-partner": Source(
        "/billing/reports/aging/by-partner", frozenset({_FINANCE, _COLLECTIONS}), frozenset({"as_of"})
    ),
    "aging/by-region": Source(
        "/billing/reports/aging/by-region", frozenset({_FINANCE, _COLLECTIONS}), frozenset({"as_of"})
    ),
    "services/export": Source(
        "/billing/reports/services/export",
        frozenset({_FINANCE, _OPS}),
        frozenset({"include_suspended"}),
        timestamps=frozenset({"created_at", "suspended_at", "activated_at"}),
        native_formats=frozenset({"csv", "json", "xlsx", "parquet"}),
    ),
    "billing-summary": Source("/billing/reports/billing-summary", frozenset({_FINANCE}), frozenset({"from", "to"})),
    "sla-breaches": Source(
        "/billing/reports/sla-breaches",
        frozenset({_FINANCE, _OPS}),
        frozenset({"resolved", "min_credit_amount"}),
        rows_key="breaches",
        timestamps=frozenset({"detected_at", "resolved_at", "period_start", "period_end"}),
    ),
    "sessions/history": Source(
        "/billing/reports/sessions/history",
        frozenset({_OPS, _SUPPORT}),
        frozenset({"subscriber_id", "username", "start_date", "end_date"}),
        rows_key="sessions",
        timestamps=frozenset({"time", "session_start_time", "session_stop_time"}),
    ),
    # Revenue analytics (reporting/analytics): per currency, the KPI pack of a month and its inputs.
    "analytics/revenue/mrr": Source(
        "/analytics/revenue/mrr",
        frozenset({_FINANCE}),
        frozenset({"as_of", "currency", "reporting_currency"}),
        unwrap="currencies",
    ),
    "analytics/revenue/movements": Source(
        "/analytics/revenue/movements",
        frozenset({_FINANCE}),
        frozenset({"from", "to", "interval", "currency", "reporting_currency"}),
        unwrap="periods",
    ),
    "analytics/revenue/kpis": Source(
        "/analytics/revenue/kpis",
        frozenset({_FINANCE}),
        frozenset({"month", "currency", "reporting_currency"}),
        unwrap="currencies",
    ),
    # Usage and network analytics (reporting/analytics).
    "analytics/usage/top": Source(
        "/analytics/usage/top", frozenset({_OPS, _SUPPORT, _FINANCE}), frozenset({"by", "from", "to", "limit"})
    ),
    "analytics/network/concurrency": Source(
        "/analytics/network/concurrency",
        frozenset({_OPS, _SUPPORT}),
        frozenset({"from", "to", "interval", "nas_id", "tz"}),
        timestamps=frozenset({"period_start", "peak_at"}),
        unwrap="peaks",
    ),
    "analytics/network/online": Source(
        "/analytics/network/online", frozenset({_OPS, _SUPPORT}), frozenset(), unwrap="by_nas"
    ),
    # Support tickets against their SLAs (reporting/tickets): one row per dimension (total, priority, type) and key.
    "analytics/support/sla": Source(
        "/analytics/support/sla", frozenset({_OPS, _SUPPORT}), frozenset({"from", "to"}), unwrap="rows"
    ),
}

# Date parameters that take relative values (`last_month`, `today-30d`...; domain/relative_dates.py), per report,
# and which end of the period each takes.
DATE_PARAMS: dict[str, dict[str, DateKind]] = {
    "aging/by-partner": {"as_of": "end_day"},
    "aging/by-region": {"as_of": "end_day"},
    "sessions/history": {"start_date": "start_at", "end_date": "end_at"},
    "analytics/revenue/mrr": {"as_of": "end_day"},
    "analytics/revenue/movements": {"from": "start_day", "to": "end_day"},
    "analytics/revenue/kpis": {"month": "month"},
    "billing-summary": {"from": "month", "to": "end_month"},
    "analytics/usage/top": {"from": "start_day", "to": "end_day"},
    "analytics/network/concurrency": {"from": "start_at", "to": "end_at"},
}


def resolve_dates(report: str, parameters: Mapping[str, Any], now: datetime, timezone: str = "UTC") -> dict[str, Any]:
    """The parameters with their relative dates resolved as of `now` in `timezone`."""
    return resolve_all(parameters, DATE_PARAMS.get(report, {}), now, zone(timezone))


# Seed 002's template example names no report, only its type: each type's report when none is given.
DEFAULT_REPORT: dict[ReportType, str] = {
    ReportType.FINANCIAL: "analytics/revenue/kpis",
    ReportType.COLLECTIONS: "blocked-customers",
    ReportType.OPERATIONS: "sessions/history",
    ReportType.SUPPORT: "sessions/history",
}

# Who may run (and see, and download) reports of a type; the template's own roles are these and the report's.
RUN_ROLES: dict[ReportType, frozenset[str]] = {
    ReportType.FINANCIAL: frozenset({_FINANCE}),
    ReportType.COLLECTIONS: frozenset({_FINANCE, _COLLECTIONS}),
    ReportType.OPERATIONS: frozenset({_OPS}),
    ReportType.SUPPORT: frozenset({_SUPPORT, _OPS}),
}
# Who may define templates of a type (and schedules, which send data out): the leads of those teams.
AUTHOR_ROLES: dict[ReportType, frozenset[str]] = {
    ReportType.FINANCIAL: frozenset({_FINANCE}),
    ReportType.COLLECTIONS: frozenset({_FINANCE}),
    ReportType.OPERATIONS: frozenset({_OPS}),
    ReportType.SUPPORT: frozenset({_OPS}),
}


class Invalid(ValueError):
    """A rule broken by a request: `field` is the path of the offending field in the request body (422)."""

    def __init__(self, field: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidRequest(ValueError):
    """Several `Invalid`s at once (e.g. every way parameters break their schema)."""

    def __init__(self, problems: list[Invalid]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


class Forbidden(DomainError):
    status_code = 403


# ---------------------------------------------------------------- access


def template_roles(report_type: ReportType, report: str) -> frozenset[str]:
    """The roles that may run a template: those of its type that the report itself admits."""
    return RUN_ROLES[report_type] & SOURCES[report].roles


def may_author(principal: Principal, report_type: ReportType) -> bool:
    return principal.has_any(AUTHOR_ROLES[report_type])


def may_run(principal: Principal, report_type: ReportType, report: str) -> bool:
    return principal.has_any(template_roles(report_type, report))


def may_see(principal: Principal, report_type: ReportType, report: str, *, is_public: bool, created_by: str) -> bool:
    """A template (and its executions) is seen by who may run it, if it is public or theirs; admin sees all."""
    if Role.ADMIN in principal.roles:
        return True
    return may_run(principal, report_type, report) and (is_public or created_by == principal.subject)


# ---------------------------------------------------------------- templates and parameters


def check_template(report_type: ReportType, report: str, formats: Iterable[str], schema: Mapping[str, Any]) -> None:
    if not template_roles(report_type, report):
        raise Invalid(("report",), f"a {report_type} report cannot be built on {report}: no role may see both")
    formats = list(formats)
    if not formats:
        raise Invalid(("output_formats",), "at least one output format")
    if len(set(formats)) != len(formats):
        raise Invalid(("output_formats",), "each format once")
    check_parameters_schema(schema, SOURCES[report])


def check_parameters_schema(schema: Mapping[str, Any], source: Source) -> None:
    """A valid JSON Schema for an object whose properties are query parameters the report takes."""
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise Invalid(("parameters_schema", *exc.path), f"not a valid JSON Schema: {exc.message}") from exc
    if schema.get("type") != "object":
        raise Invalid(("parameters_schema", "type"), 'parameters are an object: "type": "object"')
    for name in schema.get("properties", {}):
        if name not in source.parameters and not (name == "year" and takes_month_and_year(source)):
            known = ", ".join(sorted(source.parameters))
            raise Invalid(("parameters_schema", "properties", name), f"the report takes no {name!r} (it takes {known})")


def check_parameters(
    schema: Mapping[str, Any], parameters: Mapping[str, Any], where: str, *, partial: bool = False
) -> list[Invalid]:
    """Every way `parameters` break `schema`, each naming its field (`where` is the body field holding them).
    `partial`: defaults, which need not hold every required parameter (the execution gives the rest)."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    problems = []
    for error in sorted(validator.iter_errors(parameters), key=lambda e: list(map(str, e.path))):
        if partial and error.validator == "required" and not error.path:
            continue
        path: tuple[str | int, ...] = (where, *error.path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [p for p in error.validator_value if p not in error.instance]
            path = (*path, *missing[:1])
        problems.append(Invalid(path, error.message))
    for name, value in parameters.items():
        if not isinstance(value, str | int | float | bool) and value is not None:
            problems.append(Invalid((where, name), "a report parameter is a single value (string, number, boolean)"))
    return problems


def takes_month_and_year(source: Source) -> bool:
    """A report with a `month` (YYYY-MM) parameter also takes seed 002's separate `month` (1-12) and `year`."""
    return "month" in source.parameters and "year" not in source.parameters


def month_of(month: Any, year: Any) -> Any:
    """Seed 002's `{"month": "03", "year": 2025}` as the reports' `month`: "2025-03". Other values unchanged."""
    number = str(month).strip() if isinstance(month, str | int) and not isinstance(month, bool) else ""
    if isinstance(year, int) and not isinstance(year, bool) and number.isdigit() and 1 <= int(number) <= 12:
        return f"{year:04d}-{int(number):02d}"
    return month


def query_parameters(source: Source, parameters: Mapping[str, Any]) -> dict[str, str]:
    """The report's query string: parameters it takes, as the endpoint reads them (booleans as true/false)."""
    if takes_month_and_year(source) and "year" in parameters:
        parameters = dict(parameters) | {"month": month_of(parameters.get("month"), parameters["year"])}
    out = {}
    for name, value in parameters.items():
        if name in source.parameters and value is not None:
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


# ---------------------------------------------------------------- recurrence


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(("timezone",), f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)") from exc


def next_run(cron: str, timezone: str, after: datetime) -> datetime:
    """The first moment strictly after `after` that the cron expression names, read in `timezone`; in UTC.

    Standard 5-field expressions (minute hour day-of-month month day-of-week), evaluated as Debian cron does
    across daylight-saving changes (cronsim): a 02:30 job on the night the clocks skip 02:00-03:00 runs at 03:00.
    """
    if len(cron.split()) != 5:
        raise Invalid(("cron",), "five fields: minute hour day-of-month month day-of-week (e.g. '0 6 * * 1')")
    try:
        moment: datetime = next(CronSim(cron, after.astimezone(zone(timezone))))
    except CronSimError as exc:
        raise Invalid(("cron",), f"not a cron expression: {exc}") from exc
    except StopIteration as exc:  # e.g. 30 February
        raise Invalid(("cron",), "the expression never matches") from exc
    return moment.astimezone(UTC)


# ---------------------------------------------------------------- outputs


def output_filename(template_name: str, requested_at: datetime, output_format: str) -> str:
    """`monthly_aging_20250331_060000.csv`: the template's name made file-safe, and the UTC time it was asked."""
    ascii_name = unicodedata.normalize("NFKD", template_name).encode("ascii", "ignore").decode()  # é -> e; HTTP
    slug = "".join(c if c.isalnum() else "_" for c in ascii_name.lower()).strip("_")  # headers are latin-1
    slug = "_".join(part for part in slug.split("_") if part)[:80] or "report"
    return f"{slug}_{requested_at.astimezone(UTC):%Y%m%d_%H%M%S}.{EXTENSIONS[output_format]}"


def rows_of(source: Source, answer: Any) -> list[dict[str, Any]]:
    """The rows of an answer that is not paged (see `Source.unwrap`)."""
    if source.unwrap == "currencies":
        return list(answer["currencies"])
    if source.unwrap == "periods":
        return [{"start": p["start"], "end": p["end"], **c} for p in answer["periods"] for c in p["currencies"]]
    if source.unwrap is not None:  # any other key: the rows are that list of the answer
        return list(answer[source.unwrap])
    return list(answer)


def flatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """Nested objects become columns of their own: {"buckets": {"current": 1}} -> {"buckets_current": 1}."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            for inner, v in flatten(value).items():
                out[f"{key}_{inner}"] = v
        else:
            out[key] = value
    return out


def columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every column, in the order the rows first name them."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def retry_delay(base_seconds: float, attempts: int) -> float:
    """Exponential backoff: base, 2 base, 4 base, ... after the 1st, 2nd, 3rd failed try."""
    return float(base_seconds * 2 ** max(attempts - 1, 0))
