"""The BI module's tables: user data (templates, schedules, executions, outputs, deliveries, access log).

They live in the PostgreSQL schema "bi", which `reporting.rebuild` never touches (it swaps only "readmodel").
Outputs are kept in PostgreSQL, cut into 1 MiB chunks (see README: one place to back up, shared by every
replica without a common volume, written and read with flat memory, deleted with their execution's rows).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from bss_runtime.db import NAMING_CONVENTION

SCHEMA = "bi"
TS = DateTime(timezone=True)
ID = String(64)

metadata = MetaData(naming_convention=NAMING_CONVENTION, schema=SCHEMA)


def _tenant() -> Column[str]:
    return Column("tenant_id", ID, nullable=False)


templates = Table(
    "report_templates",
    metadata,
    _tenant(),
    Column("template_id", ID, nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("report_type", String(20), nullable=False),
    Column("report", String(40), nullable=False),
    Column("output_formats", JSONB, nullable=False),
    Column("parameters_schema", JSONB, nullable=False),
    Column("default_parameters", JSONB, nullable=False),
    Column("is_public", Boolean, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("deleted_at", TS),  # kept for the executions and analytics that name it
    PrimaryKeyConstraint("tenant_id", "template_id"),
    Index("uq_report_templates_name", "tenant_id", "name", unique=True, postgresql_where=text("deleted_at IS NULL")),
)

schedules = Table(
    "report_schedules",
    metadata,
    _tenant(),
    Column("schedule_id", ID, nullable=False),
    Column("template_id", ID, nullable=False),
    Column("name", String(200), nullable=False),
    Column("parameters", JSONB, nullable=False),
    Column("output_formats", JSONB, nullable=False),
    Column("cron", String(100), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("next_run_at", TS),  # null while disabled
    Column("last_run_at", TS),
    Column("email_recipients", JSONB, nullable=False),
    Column("webhook_url", Text),
    Column("webhook_secret", Text),
    Column("directory_path", Text),  # file delivery: a path under BI_DELIVERY_DIRECTORY_ROOT
    Column("sftp", JSONB),  # file delivery: host, port, username, private_key, remote_dir, known_host_key
    Column("created_by", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "schedule_id"),
    ForeignKeyConstraint(
        ["tenant_id", "template_id"], ["bi.report_templates.tenant_id", "bi.report_templates.template_id"]
    ),
    Index("ix_report_schedules_due", "next_run_at", postgresql_where=text("enabled")),
)

executions = Table(
    "report_executions",
    metadata,
    _tenant(),
    Column("execution_id", ID, nullable=False),
    Column("template_id", ID, nullable=False),
    Column("schedule_id", ID),
    Column("parameters", JSONB, nullable=False),
    Column("output_formats", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", TS, nullable=False),
    Column("not_before", TS, nullable=False),  # a retry waits until then
    Column("lease_until", TS),  # a running execution whose worker died is taken over after this
    Column("started_at", TS),
    Column("finished_at", TS),
    Column("row_count", BigInteger),
    PrimaryKeyConstraint("tenant_id", "execution_id"),
    ForeignKeyConstraint(
        ["tenant_id", "template_id"], ["bi.report_templates.tenant_id", "bi.report_templates.template_id"]
    ),
    Index("ix_report_executions_claim", "not_before", postgresql_where=text("status IN ('pending', 'running')")),
    Index("ix_report_executions_requested", "tenant_id", "requested_at"),
    Index("ix_report_executions_finished", "finished_at"),
)

outputs = Table(
    "report_outputs",
    metadata,
    _tenant(),
    Column("execution_id", ID, nullable=False),
    Column("format", String(16), nullable=False),
    Column("media_type", String(120), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expired_at", TS),  # content removed by retention; the row stays so a download answers 410
    PrimaryKeyConstraint("tenant_id", "execution_id", "format"),
    ForeignKeyConstraint(
        ["tenant_id", "execution_id"], ["bi.report_executions.tenant_id", "bi.report_executions.execution_id"]
    ),
)

output_chunks = Table(
    "report_output_chunks",
    metadata,
    _tenant(),
    Column("execution_id", ID, nullable=False),
    Column("format", String(16), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "execution_id", "format", "seq"),
    ForeignKeyConstraint(
        ["tenant_id", "execution_id", "format"],
        ["bi.report_outputs.tenant_id", "bi.report_outputs.execution_id", "bi.report_outputs.format"],
        ondelete="CASCADE",
    ),
)

deliveries = Table(
    "report_deliveries",
    metadata,
    _tenant(),
    Column("delivery_id", ID, nullable=False),
    Column("execution_id", ID, nullable=False),
    Column("schedule_id", ID, nullable=False),
    Column("channel", String(16), nullable=False),  # email | webhook | directory | sftp
    Column("target", Text, nullable=False),  # the recipients, the URL, the directory, or sftp://user@host:port/dir
    Column("status", String(16), nullable=False),  # pending | retrying | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("next_attempt_at", TS),
    Column("delivered_at", TS),
    Column("created_at", TS, nullable=False),
    PrimaryKeyConstraint("tenant_id", "delivery_id"),
    ForeignKeyConstraint(
        ["tenant_id", "execution_id"], ["bi.report_executions.tenant_id", "bi.report_executions.execution_id"]
    ),
    Index("ix_report_deliveries_due", "next_attempt_at", postgresql_where=text("status IN ('pending', 'retrying')")),
    Index("ix_report_deliveries_execution", "tenant_id", "execution_id"),
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _tenant(),
    Column("at", TS, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("template_id", ID),
    Column("execution_id", ID),
    Column("schedule_id", ID),
    Column("format", String(16)),
    Index("ix_access_log_tenant_at", "tenant_id", "at"),
)
