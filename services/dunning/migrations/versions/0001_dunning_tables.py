"""dunning tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:51:28.482756
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bss_runtime.migrations import create_runtime_tables, drop_runtime_tables
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_runtime_tables()
    op.create_table('dunning_campaigns',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('trigger_after_days', sa.Integer(), nullable=False),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('retry_interval_days', sa.Integer(), nullable=False),
    sa.Column('actions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('exclusion_rules', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('priority', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('webhook_secret', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_campaigns')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_dunning_campaigns_tenant_id_name'))
    )
    op.create_index('ix_dunning_campaigns_tenant_active_priority', 'dunning_campaigns', ['tenant_id', 'is_active', 'priority'], unique=False)
    op.create_table('dunning_customers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('partner_id', sa.String(length=64), nullable=True),
    sa.Column('tags', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id', name=op.f('pk_dunning_customers'))
    )
    op.create_table('dunning_invoices',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_number', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=True),
    sa.Column('partner_id', sa.String(length=64), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('execution_id', sa.String(length=36), nullable=True),
    sa.Column('check_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'invoice_id', name=op.f('pk_dunning_invoices'))
    )
    op.create_index('ix_dunning_invoices_to_check', 'dunning_invoices', ['next_check_at'], unique=False, postgresql_where=sa.text("status = 'overdue' AND execution_id IS NULL"))
    op.create_table('dunning_subscribers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=253), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'subscriber_id', name=op.f('pk_dunning_subscribers'))
    )
    op.create_index('ix_dunning_subscribers_customer', 'dunning_subscribers', ['tenant_id', 'customer_id'], unique=False)
    op.create_table('dunning_executions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=36), nullable=False),
    sa.Column('campaign_name', sa.String(length=200), nullable=False),
    sa.Column('invoice_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('current_step', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total_steps', sa.Integer(), nullable=False),
    sa.Column('retry_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('plan', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('initial_outstanding_minor', sa.BigInteger(), nullable=False),
    sa.Column('outstanding_minor', sa.BigInteger(), nullable=False),
    sa.Column('recovered_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_action_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('canceled_reason', sa.Text(), nullable=True),
    sa.Column('canceled_by', sa.String(length=200), nullable=True),
    sa.Column('suspended_subscriber_ids', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('correlation_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'in_progress', 'completed', 'failed', 'canceled')", name=op.f('ck_dunning_executions_status_known')),
    sa.CheckConstraint('current_step >= 0 AND current_step <= total_steps', name=op.f('ck_dunning_executions_step_in_range')),
    sa.ForeignKeyConstraint(['campaign_id'], ['dunning_campaigns.id'], name=op.f('fk_dunning_executions_campaign_id_dunning_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_executions'))
    )
    op.create_index('ix_dunning_executions_due', 'dunning_executions', ['next_action_at'], unique=False, postgresql_where=sa.text("status IN ('pending', 'in_progress')"))
    op.create_index('ix_dunning_executions_tenant_campaign', 'dunning_executions', ['tenant_id', 'campaign_id'], unique=False)
    op.create_index('ix_dunning_executions_tenant_invoice', 'dunning_executions', ['tenant_id', 'invoice_id'], unique=False)
    op.create_index('ix_dunning_executions_tenant_status', 'dunning_executions', ['tenant_id', 'status'], unique=False)
    op.create_index('uq_dunning_executions_one_active_per_invoice', 'dunning_executions', ['tenant_id', 'invoice_id'], unique=True, postgresql_where=sa.text("status IN ('pending', 'in_progress')"))
    op.create_table('dunning_action_logs',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('step_number', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('action_type', sa.String(length=30), nullable=False),
    sa.Column('action_config', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('external_id', sa.String(length=500), nullable=True),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['dunning_executions.id'], name=op.f('fk_dunning_action_logs_execution_id_dunning_executions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_action_logs')),
    sa.UniqueConstraint('execution_id', 'step_number', 'attempt', name=op.f('uq_dunning_action_logs_execution_id_step_number_attempt'))
    )
    op.create_index('ix_dunning_action_logs_tenant_type', 'dunning_action_logs', ['tenant_id', 'action_type'], unique=False)
    op.create_table('dunning_balance_changes',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reference_id', sa.String(length=64), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('outstanding_after_minor', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['dunning_executions.id'], name=op.f('fk_dunning_balance_changes_execution_id_dunning_executions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_balance_changes')),
    sa.UniqueConstraint('execution_id', 'kind', 'reference_id', name=op.f('uq_dunning_balance_changes_execution_id_kind_reference_id'))
    )


def downgrade() -> None:
    op.drop_table('dunning_balance_changes')
    op.drop_index('ix_dunning_action_logs_tenant_type', table_name='dunning_action_logs')
    op.drop_table('dunning_action_logs')
    op.drop_index('uq_dunning_executions_one_active_per_invoice', table_name='dunning_executions', postgresql_where=sa.text("status IN ('pending', 'in_progress')"))
    op.drop_index('ix_dunning_executions_tenant_status', table_name='dunning_executions')
    op.drop_index('ix_dunning_executions_tenant_invoice', table_name='dunning_executions')
    op.drop_index('ix_dunning_executions_tenant_campaign', table_name='dunning_executions')
    op.drop_index('ix_dunning_executions_due', table_name='dunning_executions', postgresql_where=sa.text("status IN ('pending', 'in_progress')"))
    op.drop_table('dunning_executions')
    op.drop_index('ix_dunning_subscribers_customer', table_name='dunning_subscribers')
    op.drop_table('dunning_subscribers')
    op.drop_index('ix_dunning_invoices_to_check', table_name='dunning_invoices', postgresql_where=sa.text("status = 'overdue' AND execution_id IS NULL"))
    op.drop_table('dunning_invoices')
    op.drop_table('dunning_customers')
    op.drop_index('ix_dunning_campaigns_tenant_active_priority', table_name='dunning_campaigns')
    op.drop_table('dunning_campaigns')
    drop_runtime_tables()
