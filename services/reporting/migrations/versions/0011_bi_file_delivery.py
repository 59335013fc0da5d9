"""BI file delivery: a schedule's directory and SFTP destinations; deliveries waiting for a retry are `retrying`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = """
ALTER TABLE bi.report_schedules ADD COLUMN directory_path TEXT;
ALTER TABLE bi.report_schedules ADD COLUMN sftp JSONB;
DROP INDEX bi.ix_report_deliveries_due;
CREATE INDEX ix_report_deliveries_due ON bi.report_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying');
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("UPDATE bi.report_deliveries SET status = 'pending' WHERE status = 'retrying'")
    op.execute("DROP INDEX bi.ix_report_deliveries_due")
    op.execute("CREATE INDEX ix_report_deliveries_due ON bi.report_deliveries (next_attempt_at) WHERE status = 'pending'")
    op.execute("ALTER TABLE bi.report_schedules DROP COLUMN sftp")
    op.execute("ALTER TABLE bi.report_schedules DROP COLUMN directory_path")
