"""BI module: report templates, schedules, executions, outputs (chunked), deliveries, access log

In the schema "bi", which the read-model rebuild never touches.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = """
CREATE SCHEMA IF NOT EXISTS bi;
CREATE TABLE bi.access_log (
	id BIGSERIAL NOT NULL,
	tenant_id VARCHAR(64) NOT NULL,
	at TIMESTAMP WITH TIME ZONE NOT NULL,
	subject VARCHAR(200) NOT NULL,
	action VARCHAR(40) NOT NULL,
	template_id VARCHAR(64),
	execution_id VARCHAR(64),
	schedule_id VARCHAR(64),
	format VARCHAR(16),
	CONSTRAINT pk_access_log PRIMARY KEY (id)
);
CREATE INDEX ix_access_log_tenant_at ON bi.access_log (tenant_id, at);
CREATE TABLE bi.report_templates (
	tenant_id VARCHAR(64) NOT NULL,
	template_id VARCHAR(64) NOT NULL,
	name VARCHAR(200) NOT NULL,
	description TEXT,
	report_type VARCHAR(20) NOT NULL,
	report VARCHAR(40) NOT NULL,
	output_formats JSONB NOT NULL,
	parameters_schema JSONB NOT NULL,
	default_parameters JSONB NOT NULL,
	is_public BOOLEAN NOT NULL,
	created_by VARCHAR(200) NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	deleted_at TIMESTAMP WITH TIME ZONE,
	CONSTRAINT pk_report_templates PRIMARY KEY (tenant_id, template_id)
);
CREATE UNIQUE INDEX uq_report_templates_name ON bi.report_templates (tenant_id, name) WHERE deleted_at IS NULL;
CREATE TABLE bi.report_executions (
	tenant_id VARCHAR(64) NOT NULL,
	execution_id VARCHAR(64) NOT NULL,
	template_id VARCHAR(64) NOT NULL,
	schedule_id VARCHAR(64),
	parameters JSONB NOT NULL,
	output_formats JSONB NOT NULL,
	status VARCHAR(20) NOT NULL,
	error TEXT,
	attempts INTEGER DEFAULT '0' NOT NULL,
	requested_by VARCHAR(200) NOT NULL,
	requested_at TIMESTAMP WITH TIME ZONE NOT NULL,
	not_before TIMESTAMP WITH TIME ZONE NOT NULL,
	lease_until TIMESTAMP WITH TIME ZONE,
	started_at TIMESTAMP WITH TIME ZONE,
	finished_at TIMESTAMP WITH TIME ZONE,
	row_count BIGINT,
	CONSTRAINT pk_report_executions PRIMARY KEY (tenant_id, execution_id),
	CONSTRAINT fk_report_executions_tenant_id_report_templates FOREIGN KEY(tenant_id, template_id) REFERENCES bi.report_templates (tenant_id, template_id)
);
CREATE INDEX ix_report_executions_claim ON bi.report_executions (not_before) WHERE status IN ('pending', 'running');
CREATE INDEX ix_report_executions_finished ON bi.report_executions (finished_at);
CREATE INDEX ix_report_executions_requested ON bi.report_executions (tenant_id, requested_at);
CREATE TABLE bi.report_schedules (
	tenant_id VARCHAR(64) NOT NULL,
	schedule_id VARCHAR(64) NOT NULL,
	template_id VARCHAR(64) NOT NULL,
	name VARCHAR(200) NOT NULL,
	parameters JSONB NOT NULL,
	output_formats JSONB NOT NULL,
	cron VARCHAR(100) NOT NULL,
	timezone VARCHAR(64) NOT NULL,
	enabled BOOLEAN NOT NULL,
	next_run_at TIMESTAMP WITH TIME ZONE,
	last_run_at TIMESTAMP WITH TIME ZONE,
	email_recipients JSONB NOT NULL,
	webhook_url TEXT,
	webhook_secret TEXT,
	created_by VARCHAR(200) NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	CONSTRAINT pk_report_schedules PRIMARY KEY (tenant_id, schedule_id),
	CONSTRAINT fk_report_schedules_tenant_id_report_templates FOREIGN KEY(tenant_id, template_id) REFERENCES bi.report_templates (tenant_id, template_id)
);
CREATE INDEX ix_report_schedules_due ON bi.report_schedules (next_run_at) WHERE enabled;
CREATE TABLE bi.report_deliveries (
	tenant_id VARCHAR(64) NOT NULL,
	delivery_id VARCHAR(64) NOT NULL,
	execution_id VARCHAR(64) NOT NULL,
	schedule_id VARCHAR(64) NOT NULL,
	channel VARCHAR(16) NOT NULL,
	target TEXT NOT NULL,
	status VARCHAR(16) NOT NULL,
	attempts INTEGER DEFAULT '0' NOT NULL,
	last_error TEXT,
	next_attempt_at TIMESTAMP WITH TIME ZONE,
	delivered_at TIMESTAMP WITH TIME ZONE,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	CONSTRAINT pk_report_deliveries PRIMARY KEY (tenant_id, delivery_id),
	CONSTRAINT fk_report_deliveries_tenant_id_report_executions FOREIGN KEY(tenant_id, execution_id) REFERENCES bi.report_executions (tenant_id, execution_id)
);
CREATE INDEX ix_report_deliveries_due ON bi.report_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_report_deliveries_execution ON bi.report_deliveries (tenant_id, execution_id);
CREATE TABLE bi.report_outputs (
	tenant_id VARCHAR(64) NOT NULL,
	execution_id VARCHAR(64) NOT NULL,
	format VARCHAR(16) NOT NULL,
	media_type VARCHAR(120) NOT NULL,
	filename VARCHAR(200) NOT NULL,
	size_bytes BIGINT NOT NULL,
	sha256 VARCHAR(64) NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	expired_at TIMESTAMP WITH TIME ZONE,
	CONSTRAINT pk_report_outputs PRIMARY KEY (tenant_id, execution_id, format),
	CONSTRAINT fk_report_outputs_tenant_id_report_executions FOREIGN KEY(tenant_id, execution_id) REFERENCES bi.report_executions (tenant_id, execution_id)
);
CREATE TABLE bi.report_output_chunks (
	tenant_id VARCHAR(64) NOT NULL,
	execution_id VARCHAR(64) NOT NULL,
	format VARCHAR(16) NOT NULL,
	seq INTEGER NOT NULL,
	data BYTEA NOT NULL,
	CONSTRAINT pk_report_output_chunks PRIMARY KEY (tenant_id, execution_id, format, seq),
	CONSTRAINT fk_report_output_chunks_tenant_id_report_outputs FOREIGN KEY(tenant_id, execution_id, format) REFERENCES bi.report_outputs (tenant_id, execution_id, format) ON DELETE CASCADE
);
"""

TABLES = [
    "report_output_chunks", "report_outputs", "report_deliveries", "report_executions", "report_schedules",
    "report_templates", "access_log",
]


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table, schema="bi")
    op.execute("DROP SCHEMA IF EXISTS bi")
