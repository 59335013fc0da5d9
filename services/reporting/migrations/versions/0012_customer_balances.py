"""Customer balances: per customer and currency, the open invoices, those declared overdue and the balance, kept
from the invoice events (service_layer/customer_balances.py) for the blocked-customers report; filled here from the
invoices already in the read model. And an index of the open invoices declared overdue, by when.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bss_contracts.money import minor_unit_exponent

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "readmodel"


def upgrade() -> None:
    op.create_table(
        "customer_balances",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("currency_exponent", sa.SmallInteger(), nullable=False),
        sa.Column("open_invoices", sa.BigInteger(), nullable=False),
        sa.Column("overdue_invoices", sa.BigInteger(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id", "currency", name=op.f("pk_customer_balances")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_invoices_open_overdue_at", "invoices", ["tenant_id", "overdue_at"], schema=SCHEMA,
        postgresql_where=sa.text("balance_minor > 0 AND overdue_at IS NOT NULL"),
    )  # fmt: skip
    # The sums of domain/customer_balances.py over the invoices already here.
    currencies = [r[0] for r in op.get_bind().execute(sa.text(f"SELECT DISTINCT currency FROM {SCHEMA}.invoices"))]
    op.get_bind().execute(
        sa.text(
            f"""
            INSERT INTO {SCHEMA}.customer_balances
            SELECT i.tenant_id, i.customer_id, i.currency, e.exponent, count(*),
                   count(*) FILTER (WHERE i.overdue_at IS NOT NULL), sum(i.balance_minor)
            FROM {SCHEMA}.invoices i
            JOIN unnest(CAST(:currencies AS text[]), CAST(:exponents AS smallint[])) AS e(currency, exponent)
                ON e.currency = i.currency
            WHERE i.balance_minor > 0
            GROUP BY 1, 2, 3, 4
            """
        ),
        {"currencies": currencies, "exponents": [minor_unit_exponent(c) for c in currencies]},
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_open_overdue_at", table_name="invoices", schema=SCHEMA)
    op.drop_table("customer_balances", schema=SCHEMA)
