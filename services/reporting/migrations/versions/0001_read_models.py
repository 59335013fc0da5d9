"""read models: customers, subscribers, invoices and their balance movements, SLA breaches and credits,
dunning executions, sessions (partitioned by month) with their hourly rollup, NAS resets

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS readmodel")
    op.create_table('aging_balances',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('partner_key', sa.String(length=64), nullable=False),
    sa.Column('country_key', sa.String(length=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('invoice_count', sa.BigInteger(), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'partner_key', 'country_key', 'currency', 'due_date', name=op.f('pk_aging_balances')),
    schema='readmodel'
    )
    op.create_table('aging_changes',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('partner_key', sa.String(length=64), nullable=False),
    sa.Column('country_key', sa.String(length=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('invoice_count', sa.BigInteger(), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'effective_date', 'partner_key', 'country_key', 'currency', 'due_date', name=op.f('pk_aging_changes')),
    schema='readmodel'
    )
    op.create_table('customers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('partner_id', sa.String(length=64), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('billing_country', sa.String(length=2), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id', name=op.f('pk_customers')),
    schema='readmodel'
    )
    op.create_table('dunning_executions',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('execution_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_name', sa.String(length=200), nullable=True),
    sa.Column('invoice_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('last_step_number', sa.Integer(), nullable=True),
    sa.Column('last_step_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'execution_id', name=op.f('pk_dunning_executions')),
    schema='readmodel'
    )
    op.create_index('ix_dunning_executions_tenant_customer', 'dunning_executions', ['tenant_id', 'customer_id'], unique=False, schema='readmodel')
    op.create_table('invoice_movements',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('movement_id', sa.UUID(), nullable=False),
    sa.Column('invoice_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delta_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'movement_id', name=op.f('pk_invoice_movements')),
    schema='readmodel'
    )
    op.create_index('ix_invoice_movements_tenant_effective', 'invoice_movements', ['tenant_id', 'effective_at'], unique=False, schema='readmodel')
    op.create_index('ix_invoice_movements_tenant_invoice', 'invoice_movements', ['tenant_id', 'invoice_id'], unique=False, schema='readmodel')
    op.create_table('invoices',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_number', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=True),
    sa.Column('invoice_partner_id', sa.String(length=64), nullable=True),
    sa.Column('invoice_billing_country', sa.String(length=2), nullable=True),
    sa.Column('partner_id', sa.String(length=64), nullable=True),
    sa.Column('billing_country', sa.String(length=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'invoice_id', name=op.f('pk_invoices')),
    schema='readmodel'
    )
    op.create_index('ix_invoices_open_by_customer', 'invoices', ['tenant_id', 'customer_id'], unique=False, schema='readmodel', postgresql_include=['currency', 'due_date', 'balance_minor'], postgresql_where=sa.text('balance_minor > 0'))
    op.create_index('ix_invoices_tenant_customer', 'invoices', ['tenant_id', 'customer_id'], unique=False, schema='readmodel')
    op.create_table('nas_resets',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('nas_id', sa.String(length=64), nullable=False),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'nas_id', 'event_time', name=op.f('pk_nas_resets')),
    schema='readmodel'
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=255), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('headers', postgresql.JSONB(astext_type=Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_event_id')),
    schema='readmodel'
    )
    op.create_index('ix_outbox_published_at', 'outbox', ['published_at'], unique=False, schema='readmodel')
    op.create_index('ix_outbox_unpublished', 'outbox', ['id'], unique=False, schema='readmodel', postgresql_where='published_at IS NULL')
    op.create_table('processed_events',
    sa.Column('consumer', sa.String(length=100), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('event_type', sa.String(length=255), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id', name=op.f('pk_processed_events')),
    schema='readmodel'
    )
    op.create_table('session_days',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sessions', sa.BigInteger(), nullable=False),
    sa.Column('input_octets', sa.BigInteger(), nullable=False),
    sa.Column('output_octets', sa.BigInteger(), nullable=False),
    sa.Column('session_time_seconds', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'day', name=op.f('pk_session_days')),
    schema='readmodel'
    )
    op.create_table('session_hours',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sessions', sa.BigInteger(), nullable=False),
    sa.Column('input_octets', sa.BigInteger(), nullable=False),
    sa.Column('output_octets', sa.BigInteger(), nullable=False),
    sa.Column('session_time_seconds', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'hour', name=op.f('pk_session_hours')),
    schema='readmodel'
    )
    op.create_table('sessions',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('session_key', sa.String(length=255), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=253), nullable=False),
    sa.Column('acct_session_id', sa.String(length=255), nullable=False),
    sa.Column('nas_id', sa.String(length=64), nullable=False),
    sa.Column('nas_ip_address', sa.String(length=45), nullable=False),
    sa.Column('framed_ip_address', sa.String(length=45), nullable=True),
    sa.Column('framed_ipv6_prefix', sa.String(length=64), nullable=True),
    sa.Column('delegated_ipv6_prefix', sa.String(length=64), nullable=True),
    sa.Column('calling_station_id', sa.String(length=64), nullable=True),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stop_source', sa.String(length=4), nullable=True),
    sa.Column('stop_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('terminate_cause', sa.String(length=64), nullable=True),
    sa.Column('session_time_seconds', sa.BigInteger(), nullable=False),
    sa.Column('input_octets', sa.BigInteger(), nullable=False),
    sa.Column('output_octets', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'session_key', 'start_time', name=op.f('pk_sessions')),
    schema='readmodel',
    postgresql_partition_by='RANGE (start_time)'
    )
    op.create_index('ix_sessions_tenant_time', 'sessions', ['tenant_id', 'time'], unique=False, schema='readmodel')
    op.create_index('ix_sessions_tenant_username_time', 'sessions', ['tenant_id', 'username', 'time'], unique=False, schema='readmodel')
    op.create_index('ix_sessions_unstopped_by_nas', 'sessions', ['tenant_id', 'nas_id', 'start_time'], unique=False, schema='readmodel', postgresql_where=sa.text("stop_source IS DISTINCT FROM 'stop'"))
    op.create_table('sla_breaches',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('breach_id', sa.String(length=64), nullable=False),
    sa.Column('instance_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('sla_definition_id', sa.String(length=64), nullable=True),
    sa.Column('service_id', sa.String(length=64), nullable=True),
    sa.Column('service_name', sa.String(length=300), nullable=True),
    sa.Column('breach_type', sa.String(length=40), nullable=True),
    sa.Column('severity', sa.String(length=20), nullable=True),
    sa.Column('target_value', sa.Float(), nullable=True),
    sa.Column('actual_value', sa.Float(), nullable=True),
    sa.Column('deviation_percent', sa.Float(), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expected_credit_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('currency_exponent', sa.SmallInteger(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('credit_issued_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'breach_id', name=op.f('pk_sla_breaches')),
    schema='readmodel'
    )
    op.create_index('ix_sla_breaches_tenant_detected', 'sla_breaches', ['tenant_id', 'detected_at'], unique=False, schema='readmodel')
    op.create_table('sla_credits',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('credit_note_id', sa.String(length=64), nullable=False),
    sa.Column('breach_id', sa.String(length=64), nullable=False),
    sa.Column('instance_id', sa.String(length=64), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'credit_note_id', name=op.f('pk_sla_credits')),
    schema='readmodel'
    )
    op.create_index('ix_sla_credits_tenant_breach', 'sla_credits', ['tenant_id', 'breach_id'], unique=False, schema='readmodel')
    op.create_table('subscribers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('username', sa.String(length=253), nullable=True),
    sa.Column('plan_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspension_reason', sa.Text(), nullable=True),
    sa.Column('terminated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'subscriber_id', name=op.f('pk_subscribers')),
    schema='readmodel'
    )
    op.create_index('ix_subscribers_suspended', 'subscribers', ['tenant_id', 'suspended_at'], unique=False, schema='readmodel', postgresql_where=sa.text("status = 'suspended'"))
    op.create_index('ix_subscribers_tenant_customer', 'subscribers', ['tenant_id', 'customer_id'], unique=False, schema='readmodel')
    op.create_index('ix_subscribers_tenant_username', 'subscribers', ['tenant_id', 'username'], unique=False, schema='readmodel')
    


def downgrade() -> None:
    op.execute("DROP SCHEMA readmodel CASCADE")
