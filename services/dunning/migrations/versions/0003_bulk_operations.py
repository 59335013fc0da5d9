"""bulk operations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 14:40:00
"""

from collections.abc import Sequence

from bss_runtime.bulk import create_bulk_tables, drop_bulk_tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_bulk_tables()


def downgrade() -> None:
    drop_bulk_tables()
