"""billing tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:14:24.468355
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
    op.create_table('applications',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_applications_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications'))
    )
    op.create_index('ix_applications_invoice', 'applications', ['tenant_id', 'invoice_id'], unique=False)
    op.create_table('billing_customers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=True),
    sa.Column('billing_country', sa.String(length=2), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id', name=op.f('pk_billing_customers'))
    )
    op.create_table('billing_subscribers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=253), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('plan_id', sa.String(length=64), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'subscriber_id', name=op.f('pk_billing_subscribers'))
    )
    op.create_index('ix_billing_subscribers_username', 'billing_subscribers', ['tenant_id', 'username'], unique=False)
    op.create_table('credit_entries',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('reference_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_entries'))
    )
    op.create_index('ix_credit_entries_customer', 'credit_entries', ['tenant_id', 'customer_id', 'currency'], unique=False)
    op.create_table('credit_notes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_id', sa.String(length=36), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('applied_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('sla_breach_id', sa.String(length=36), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor > 0 AND applied_minor >= 0 AND applied_minor <= amount_minor', name=op.f('ck_credit_notes_amounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_notes')),
    sa.UniqueConstraint('tenant_id', 'number', name=op.f('uq_credit_notes_tenant_id_number'))
    )
    op.create_index('ix_credit_notes_customer', 'credit_notes', ['tenant_id', 'customer_id'], unique=False)
    op.create_table('customer_credits',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('balance_minor >= 0', name=op.f('ck_customer_credits_non_negative')),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id', 'currency', name=op.f('pk_customer_credits'))
    )
    op.create_table('document_counters',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('series', sa.String(length=8), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'series', 'year', name=op.f('pk_document_counters'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=True),
    sa.Column('subscription_id', sa.String(length=36), nullable=True),
    sa.Column('partner_id', sa.String(length=64), nullable=True),
    sa.Column('billing_country', sa.String(length=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('memo', sa.Text(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('payment_terms_days', sa.Integer(), nullable=True),
    sa.Column('subtotal_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('tax_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('total_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'open', 'paid', 'void')", name=op.f('ck_invoices_status')),
    sa.CheckConstraint("status IN ('draft', 'void') OR balance_minor >= 0 AND balance_minor <= total_minor", name=op.f('ck_invoices_balance_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('tenant_id', 'number', name=op.f('uq_invoices_tenant_id_number')),
    sa.UniqueConstraint('tenant_id', 'subscription_id', 'period_start', name=op.f('uq_invoices_tenant_id_subscription_id_period_start'))
    )
    op.create_index('ix_invoices_customer', 'invoices', ['tenant_id', 'customer_id', 'currency', 'status'], unique=False)
    op.create_index('ix_invoices_overdue_due', 'invoices', ['overdue_at'], unique=False, postgresql_where=sa.text("status = 'open' AND overdue_notified_at IS NULL"))
    op.create_table('payments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('unapplied_minor', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.String(length=50), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('invoice_id', sa.String(length=36), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_minor > 0 AND unapplied_minor >= 0', name=op.f('ck_payments_amounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('tenant_id', 'external_id', name=op.f('uq_payments_tenant_id_external_id'))
    )
    op.create_index('ix_payments_customer', 'payments', ['tenant_id', 'customer_id'], unique=False)
    op.create_table('plans',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('included_octets', sa.BigInteger(), nullable=True),
    sa.Column('overage_price_per_gb_minor', sa.BigInteger(), nullable=False),
    sa.Column('overage_increment_octets', sa.BigInteger(), nullable=False),
    sa.Column('tax_rate_bp', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('price_minor >= 0 AND overage_price_per_gb_minor >= 0', name=op.f('ck_plans_non_negative_prices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_plans_tenant_id_code'))
    )
    op.create_table('sla_definitions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('target_percent', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('measurement_period', sa.String(length=10), nullable=False),
    sa.Column('step_percent', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('credit_percent_per_step', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('cap_percent', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('major_from_points', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('critical_from_points', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_definitions')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_sla_definitions_tenant_id_name'))
    )
    op.create_table('usage_periods',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('subscription_id', sa.String(length=36), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('input_octets', sa.BigInteger(), nullable=False),
    sa.Column('output_octets', sa.BigInteger(), nullable=False),
    sa.Column('included_octets', sa.BigInteger(), nullable=True),
    sa.Column('overage_octets', sa.BigInteger(), nullable=False),
    sa.Column('billed_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('invoice_id', sa.String(length=36), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dirty_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'subscription_id', 'period_start', name=op.f('pk_usage_periods'))
    )
    op.create_index('ix_usage_periods_dirty', 'usage_periods', ['tenant_id', 'subscription_id'], unique=False, postgresql_where=sa.text('dirty_since IS NOT NULL'))
    op.create_table('usage_samples',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('session_key', sa.String(length=255), nullable=False),
    sa.Column('bucket_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=253), nullable=False),
    sa.Column('input_octets', sa.BigInteger(), nullable=False),
    sa.Column('output_octets', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'session_key', 'bucket_start', name=op.f('pk_usage_samples'))
    )
    op.create_index('ix_usage_samples_username_bucket', 'usage_samples', ['tenant_id', 'username', 'bucket_start'], unique=False)
    op.create_table('invoice_lines',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('unit_price_minor', sa.BigInteger(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('tax_rate_bp', sa.Integer(), nullable=False),
    sa.Column('tax_minor', sa.BigInteger(), nullable=False),
    sa.Column('usage_period_start', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines')),
    sa.UniqueConstraint('invoice_id', 'position', name=op.f('uq_invoice_lines_invoice_id_position'))
    )
    op.create_table('sla_instances',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('definition_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=True),
    sa.Column('service_name', sa.String(length=200), nullable=False),
    sa.Column('monthly_fee_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('active_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_period_start', sa.Date(), nullable=False),
    sa.Column('next_evaluation_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['sla_definitions.id'], name=op.f('fk_sla_instances_definition_id_sla_definitions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_instances'))
    )
    op.create_index('ix_sla_instances_customer', 'sla_instances', ['tenant_id', 'customer_id'], unique=False)
    op.create_index('ix_sla_instances_next_evaluation', 'sla_instances', ['next_evaluation_at'], unique=False)
    op.create_table('subscriptions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('next_cycle', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_close_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_subscriptions_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    op.create_index('ix_subscriptions_customer', 'subscriptions', ['tenant_id', 'customer_id'], unique=False)
    op.create_index('ix_subscriptions_next_close_at', 'subscriptions', ['next_close_at'], unique=False, postgresql_where=sa.text("status = 'active'"))
    op.create_index('uq_subscriptions_active_subscriber', 'subscriptions', ['tenant_id', 'subscriber_id'], unique=True, postgresql_where=sa.text("status = 'active'"))
    op.create_table('sla_breaches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('target_percent', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('actual_percent', sa.Numeric(precision=12, scale=8), nullable=False),
    sa.Column('detected_actual_percent', sa.Numeric(precision=12, scale=8), nullable=False),
    sa.Column('credited_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('final', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['sla_instances.id'], name=op.f('fk_sla_breaches_instance_id_sla_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_breaches')),
    sa.UniqueConstraint('tenant_id', 'instance_id', 'period_start', name=op.f('uq_sla_breaches_tenant_id_instance_id_period_start'))
    )
    op.create_index('ix_sla_breaches_tenant', 'sla_breaches', ['tenant_id', 'status'], unique=False)
    op.create_table('sla_outages',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('reported_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('ended_at IS NULL OR ended_at > started_at', name=op.f('ck_sla_outages_ends_after_start')),
    sa.ForeignKeyConstraint(['instance_id'], ['sla_instances.id'], name=op.f('fk_sla_outages_instance_id_sla_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_outages')),
    sa.UniqueConstraint('tenant_id', 'instance_id', 'external_id', name=op.f('uq_sla_outages_tenant_id_instance_id_external_id'))
    )
    op.create_index('ix_sla_outages_instance', 'sla_outages', ['tenant_id', 'instance_id', 'started_at'], unique=False)
    op.create_index('ix_sla_outages_ongoing', 'sla_outages', ['instance_id'], unique=False, postgresql_where=sa.text('ended_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_sla_outages_ongoing', table_name='sla_outages', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_index('ix_sla_outages_instance', table_name='sla_outages')
    op.drop_table('sla_outages')
    op.drop_index('ix_sla_breaches_tenant', table_name='sla_breaches')
    op.drop_table('sla_breaches')
    op.drop_index('uq_subscriptions_active_subscriber', table_name='subscriptions', postgresql_where=sa.text("status = 'active'"))
    op.drop_index('ix_subscriptions_next_close_at', table_name='subscriptions', postgresql_where=sa.text("status = 'active'"))
    op.drop_index('ix_subscriptions_customer', table_name='subscriptions')
    op.drop_table('subscriptions')
    op.drop_index('ix_sla_instances_next_evaluation', table_name='sla_instances')
    op.drop_index('ix_sla_instances_customer', table_name='sla_instances')
    op.drop_table('sla_instances')
    op.drop_table('invoice_lines')
    op.drop_index('ix_usage_samples_username_bucket', table_name='usage_samples')
    op.drop_table('usage_samples')
    op.drop_index('ix_usage_periods_dirty', table_name='usage_periods', postgresql_where=sa.text('dirty_since IS NOT NULL'))
    op.drop_table('usage_periods')
    op.drop_table('sla_definitions')
    op.drop_table('plans')
    op.drop_index('ix_payments_customer', table_name='payments')
    op.drop_table('payments')
    op.drop_index('ix_invoices_overdue_due', table_name='invoices', postgresql_where=sa.text("status = 'open' AND overdue_notified_at IS NULL"))
    op.drop_index('ix_invoices_customer', table_name='invoices')
    op.drop_table('invoices')
    op.drop_table('document_counters')
    op.drop_table('customer_credits')
    op.drop_index('ix_credit_notes_customer', table_name='credit_notes')
    op.drop_table('credit_notes')
    op.drop_index('ix_credit_entries_customer', table_name='credit_entries')
    op.drop_table('credit_entries')
    op.drop_index('ix_billing_subscribers_username', table_name='billing_subscribers')
    op.drop_table('billing_subscribers')
    op.drop_table('billing_customers')
    op.drop_index('ix_applications_invoice', table_name='applications')
    op.drop_table('applications')
    drop_runtime_tables()
