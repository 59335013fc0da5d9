"""Business alerts: rules, alerts, silences, notifications and NAS capacities (schema "alerts", user data the
read-model rebuild never touches).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "alerts"

DDL = """
CREATE TABLE alerts.alert_notifications (
	tenant_id VARCHAR(64) NOT NULL,
	notification_id VARCHAR(64) NOT NULL,
	alert_id VARCHAR(64) NOT NULL,
	transition VARCHAR(10) NOT NULL,
	channel VARCHAR(10) NOT NULL,
	target TEXT NOT NULL,
	body TEXT NOT NULL,
	signature VARCHAR(64),
	status VARCHAR(10) NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt_at TIMESTAMP WITH TIME ZONE,
	claimed_until TIMESTAMP WITH TIME ZONE,
	last_error TEXT,
	delivered_at TIMESTAMP WITH TIME ZONE,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	CONSTRAINT pk_alert_notifications PRIMARY KEY (tenant_id, notification_id)
);
CREATE INDEX ix_alert_notifications_due ON alerts.alert_notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_alert_notifications_alert ON alerts.alert_notifications (tenant_id, alert_id);
CREATE TABLE alerts.alert_rules (
	tenant_id VARCHAR(64) NOT NULL,
	rule_id VARCHAR(64) NOT NULL,
	name VARCHAR(200) NOT NULL,
	kind VARCHAR(40) NOT NULL,
	parameters JSONB NOT NULL,
	severity VARCHAR(20) NOT NULL,
	for_seconds INTEGER NOT NULL,
	repeat_seconds INTEGER NOT NULL,
	interval_seconds INTEGER NOT NULL,
	enabled BOOLEAN NOT NULL,
	email_to TEXT,
	webhook_url VARCHAR(2000),
	webhook_secret VARCHAR(200),
	next_evaluation_at TIMESTAMP WITH TIME ZONE NOT NULL,
	last_evaluated_at TIMESTAMP WITH TIME ZONE,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	CONSTRAINT pk_alert_rules PRIMARY KEY (tenant_id, rule_id)
);
CREATE INDEX ix_alert_rules_due ON alerts.alert_rules (next_evaluation_at) WHERE enabled;
CREATE TABLE alerts.alert_silences (
	tenant_id VARCHAR(64) NOT NULL,
	silence_id VARCHAR(64) NOT NULL,
	rule_id VARCHAR(64) NOT NULL,
	subject VARCHAR(300),
	ends_at TIMESTAMP WITH TIME ZONE NOT NULL,
	comment VARCHAR(500),
	created_by VARCHAR(200) NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	CONSTRAINT pk_alert_silences PRIMARY KEY (tenant_id, silence_id)
);
CREATE INDEX ix_alert_silences_rule ON alerts.alert_silences (tenant_id, rule_id, ends_at);
CREATE TABLE alerts.alerts (
	tenant_id VARCHAR(64) NOT NULL,
	alert_id VARCHAR(64) NOT NULL,
	rule_id VARCHAR(64) NOT NULL,
	subject VARCHAR(300) NOT NULL,
	state VARCHAR(10) NOT NULL,
	value FLOAT,
	threshold FLOAT NOT NULL,
	summary TEXT NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	fired_at TIMESTAMP WITH TIME ZONE,
	resolved_at TIMESTAMP WITH TIME ZONE,
	last_notified_at TIMESTAMP WITH TIME ZONE,
	acknowledged_at TIMESTAMP WITH TIME ZONE,
	acknowledged_by VARCHAR(200),
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	CONSTRAINT pk_alerts PRIMARY KEY (tenant_id, alert_id)
);
CREATE INDEX ix_alerts_tenant_state ON alerts.alerts (tenant_id, state, started_at);
CREATE UNIQUE INDEX ux_alerts_active ON alerts.alerts (tenant_id, rule_id, subject) WHERE state IN ('pending', 'firing');
CREATE TABLE alerts.nas_capacities (
	tenant_id VARCHAR(64) NOT NULL,
	nas_id VARCHAR(64) NOT NULL,
	max_sessions INTEGER NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	CONSTRAINT pk_nas_capacities PRIMARY KEY (tenant_id, nas_id)
);
"""


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
