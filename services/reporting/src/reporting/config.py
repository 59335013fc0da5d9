"""The reporting service's settings (plain environment names, like every service)."""

from __future__ import annotations

from pydantic import Field

from bss_runtime.delivery import SmtpSettings
from bss_runtime.settings import ServiceSettings


class Settings(ServiceSettings, SmtpSettings):
    service_name: str = "reporting"
    http_port: int = 8104

    session_retention_months: int = Field(
        default=13, ge=1, description="Months of sessions kept (the current month plus this many before it)"
    )
    session_partitions_ahead: int = Field(default=3, ge=1, description="Monthly session partitions created ahead")
    maintenance_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often partitions are created ahead and old ones dropped"
    )
    online_move_on_seconds: float = Field(
        default=5.0, gt=0, description="How often the online-now counters are moved on to the current time"
    )
    export_chunk_rows: int = Field(default=5000, ge=100, description="Rows fetched per round trip when exporting")
    parquet_row_group_rows: int = Field(default=65_536, ge=100, description="Rows per Parquet row group")

    # ---- BI module (templates, executions, schedules, deliveries): see README, "Business intelligence"
    bi_worker_enabled: bool = Field(default=True, description="Run the BI worker (schedules, executions, delivery)")
    bi_poll_seconds: float = Field(default=1.0, gt=0, description="How often the idle BI worker looks for work")
    bi_output_retention_days: int = Field(default=30, ge=1, description="Outputs are deleted this many days after")
    bi_cleanup_interval_seconds: float = Field(default=3600.0, gt=0, description="How often expired outputs go")
    bi_max_rows: int = Field(
        default=100_000, ge=1, description="Rows one execution may hold (services/export excepted)"
    )
    bi_execution_lease_seconds: float = Field(
        default=900.0, gt=0, description="A running execution not finished by then is taken over by another worker"
    )
    bi_execution_max_attempts: int = Field(default=3, ge=1, description="Tries of an execution after transient errors")
    bi_retry_backoff_seconds: float = Field(default=60.0, ge=0, description="First retry delay; doubles each time")
    bi_delivery_max_attempts: int = Field(default=5, ge=1)
    bi_public_base_url: str = Field(
        default="http://localhost:8080", description="Where users reach the API (download links in emails, webhooks)"
    )
    bi_email_max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024, ge=0, description="Larger outputs are linked in the email instead of attached"
    )
    bi_delivery_directory_root: str | None = Field(
        default=None,
        description="Local or mounted directory that directory deliveries write under (unset: none allowed)",
    )
    bi_sftp_timeout_seconds: float = Field(default=30.0, gt=0, description="SFTP connect and login timeout")
    # Report emails go to a real SMTP server (SMTP_* settings from SmtpSettings).
    mail_from: str = "Reports <reports@isp.example>"
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    # ---- Alerts (rules, evaluation, notifications): see docs/reporting.md, "Business alerts"
    alert_worker_enabled: bool = Field(default=True, description="Run the alerts worker (evaluation, delivery)")
    alert_poll_seconds: float = Field(default=5.0, gt=0, description="How often the idle alerts worker looks")
    alert_event_gap_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A rule is evaluated on relevant events at most this often (besides its schedule)",
    )
    alert_delivery_lease_seconds: float = Field(
        default=120.0, gt=0, description="A notification being sent is taken over by another worker after this"
    )
    alert_delivery_max_attempts: int = Field(default=5, ge=1, description="Tries of one alert notification")
    alert_retry_backoff_seconds: float = Field(default=30.0, ge=0, description="First retry delay; doubles each time")
    alert_mail_from: str = "Alerts <alerts@isp.example>"
