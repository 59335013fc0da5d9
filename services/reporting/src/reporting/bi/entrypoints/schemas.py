"""Request and response bodies of /business-intelligence/*."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from bss_runtime.inputs import Id, JsonObject, Text
from reporting.bi.domain.model import ReportType

OutputFormat = Literal["csv", "json", "xlsx", "parquet", "html", "txt", "pdf"]
ReportName = Literal[
    "blocked-customers",
    "aging/by-partner",
    "aging/by-region",
    "services/export",
    "billing-summary",
    "sla-breaches",
    "sessions/history",
    "analytics/revenue/mrr",
    "analytics/revenue/movements",
    "analytics/revenue/kpis",
    "analytics/usage/top",
    "analytics/network/concurrency",
    "analytics/network/online",
    "analytics/support/sla",
]  # = bi.domain.model.SOURCES (a test checks)
Email = Annotated[str, Text(320, pattern=r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")]
Name = Annotated[str, Text(200, strip_whitespace=True)]
Description = Annotated[str, Text(2000, min_length=0)]
Cron = Annotated[str, Text(100)]
Zone = Annotated[str, Text(64)]
Secret = Annotated[str, Text(200, min_length=16)]
Host = Annotated[str, Text(253, pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*|[0-9A-Fa-f:.]+)$")]
Username = Annotated[str, Text(64, pattern=r"^[A-Za-z0-9._][A-Za-z0-9._-]*$")]
FilePath = Annotated[str, Text(1024)]
PrivateKey = Annotated[str, Text(16_384)]
PublicKey = Annotated[str, Text(8192)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateIn(_Strict):
    name: Name
    description: Description | None = None
    report_type: ReportType
    report: ReportName | None = Field(
        default=None,
        description="The data source: one of the reports of /billing/reports or /analytics; default the type's "
        "own (financial: analytics/revenue/kpis, collections: blocked-customers, operations and support: "
        "sessions/history)",
    )
    output_formats: list[OutputFormat] = Field(min_length=1)
    data_source_ids: Annotated[list[int | Id], Field(max_length=50)] | None = Field(
        default=None, description="Seed 002's field, accepted and not used: the data source is `report`"
    )
    parameters_schema: JsonObject = Field(
        default_factory=lambda: {"type": "object"},
        description="JSON Schema of the execution parameters (an object; properties are the report's parameters)",
    )
    default_parameters: JsonObject = Field(default_factory=dict)
    is_public: bool = Field(default=False, description="Public: every user whose roles may run it; else its author")


class TemplatePatch(_Strict):
    name: Name | None = None
    description: Description | None = None
    report_type: ReportType | None = None
    report: ReportName | None = None
    output_formats: list[OutputFormat] | None = Field(default=None, min_length=1)
    parameters_schema: JsonObject | None = None
    default_parameters: JsonObject | None = None
    is_public: bool | None = None


class TemplateOut(BaseModel):
    template_id: str
    name: str
    description: str | None
    report_type: ReportType
    report: str
    output_formats: list[str]
    parameters_schema: dict[str, Any]
    default_parameters: dict[str, Any]
    is_public: bool
    allowed_roles: list[str] = Field(description="Roles that may run it (admin always may)")
    created_by: str
    created_at: datetime
    updated_at: datetime


class ExecutionIn(_Strict):
    template_id: Id
    parameters: JsonObject = Field(default_factory=dict)


class OutputOut(BaseModel):
    format: str
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    expired: bool
    download_path: str


class DeliveryOut(BaseModel):
    delivery_id: str
    channel: Literal["email", "webhook", "directory", "sftp"]
    target: str = Field(description="Recipients, URL, directory (under the root) or sftp://user@host:port/dir")
    status: Literal["pending", "retrying", "delivered", "failed"] = Field(
        description="pending until the first try; retrying while a failed try waits for the next; then delivered "
        "or failed (BI_DELIVERY_MAX_ATTEMPTS spent)"
    )
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class ExecutionOut(BaseModel):
    execution_id: str
    template_id: str
    template_name: str
    schedule_id: str | None
    parameters: dict[str, Any]
    output_formats: list[str]
    status: Literal["pending", "running", "completed", "failed"]
    error: str | None
    attempts: int
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    row_count: int | None
    outputs: list[OutputOut]
    deliveries: list[DeliveryOut]


class DirectoryDestination(_Strict):
    path: FilePath = Field(
        description="Directory under the service's BI_DELIVERY_DIRECTORY_ROOT (created if missing); absolute paths "
        "and '..' are refused",
        examples=["finance/monthly"],
    )


class SftpDestinationIn(_Strict):
    host: Host
    port: int = Field(default=22, ge=1, le=65535)
    username: Username
    private_key: PrivateKey = Field(
        description="The client's unencrypted private key (OpenSSH or PEM text); stored, never shown"
    )
    known_host_key: PublicKey = Field(
        description="The server's host public key ('ssh-ed25519 AAAA...'): any other key is refused"
    )
    remote_dir: FilePath = Field(default=".", description="Absolute, or relative to the login directory; no '..'")


class SftpDestinationOut(BaseModel):
    host: str
    port: int
    username: str
    known_host_key: str
    remote_dir: str
    private_key_set: bool = Field(description="The key itself is never shown")


class ScheduleIn(_Strict):
    template_id: Id
    name: Name
    parameters: JsonObject = Field(default_factory=dict, description="Merged over the template's defaults")
    output_formats: list[OutputFormat] | None = Field(default=None, description="Default: the template's")
    cron: Cron = Field(description="Five fields: minute hour day-of-month month day-of-week", examples=["0 6 * * 1"])
    timezone: Zone = Field(default="UTC", description="IANA zone the cron expression is read in")
    enabled: bool = True
    email_recipients: list[Email] = Field(default_factory=list, max_length=50)
    webhook_url: AnyHttpUrl | None = None
    webhook_secret: Secret | None = None
    directory: DirectoryDestination | None = Field(default=None, description="Write the outputs as files there")
    sftp: SftpDestinationIn | None = Field(default=None, description="Upload the outputs to an SFTP server")


class SchedulePatch(_Strict):
    name: Name | None = None
    parameters: JsonObject | None = None
    output_formats: list[OutputFormat] | None = None
    cron: Cron | None = None
    timezone: Zone | None = None
    enabled: bool | None = None
    email_recipients: list[Email] | None = Field(default=None, max_length=50)
    webhook_url: AnyHttpUrl | None = None
    webhook_secret: Secret | None = None
    directory: DirectoryDestination | None = None
    sftp: SftpDestinationIn | None = None


class ScheduleOut(BaseModel):
    schedule_id: str
    template_id: str
    name: str
    parameters: dict[str, Any]
    output_formats: list[str]
    cron: str
    timezone: str
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    email_recipients: list[str]
    webhook_url: str | None
    webhook_secret_set: bool = Field(description="The secret itself is never shown")
    directory: DirectoryDestination | None
    sftp: SftpDestinationOut | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class TemplateUsage(BaseModel):
    template_id: str
    template_name: str
    executions: int
    completed: int
    failed: int
    average_duration_seconds: float | None
    downloads: int


class DayUsage(BaseModel):
    date: date
    executions: int
    completed: int
    failed: int


class UsageOut(BaseModel):
    start_date: date
    end_date: date
    executions: int
    completed: int
    failed: int
    pending: int
    running: int
    downloads: int
    average_duration_seconds: float | None
    by_template: list[TemplateUsage]
    by_day: list[DayUsage]


class AccessEntry(BaseModel):
    at: datetime
    subject: str
    action: str
    template_id: str | None
    execution_id: str | None
    schedule_id: str | None
    format: str | None
