"""Partner names (read model, from PartnerCreated/PartnerUpdated), for aging by partner; and the per-tenant
blocked-customers priority thresholds (schema "settings", user data the read-model rebuild never touches).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = """
CREATE TABLE readmodel.partners (
	tenant_id VARCHAR(64) NOT NULL,
	partner_id VARCHAR(64) NOT NULL,
	name VARCHAR(300) NOT NULL,
	source_updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	CONSTRAINT pk_partners PRIMARY KEY (tenant_id, partner_id)
);
CREATE SCHEMA IF NOT EXISTS settings;
CREATE TABLE settings.priority_thresholds (
	tenant_id VARCHAR(64) NOT NULL,
	thresholds JSONB NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	updated_by VARCHAR(200),
	CONSTRAINT pk_priority_thresholds PRIMARY KEY (tenant_id)
);
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS settings CASCADE")
    op.execute("DROP TABLE IF EXISTS readmodel.partners")
