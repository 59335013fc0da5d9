"""customers tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:58:49.759650
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
    op.create_table('partners',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_partners')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_partners_tenant_id_name'))
    )
    op.create_table('subscriber_requests',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('subscriber_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('invoice_id', sa.String(length=64), nullable=True),
    sa.Column('dunning_execution_id', sa.String(length=64), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'request_id', name=op.f('pk_subscriber_requests'))
    )
    op.create_index('ix_subscriber_request_subscriber', 'subscriber_requests', ['tenant_id', 'subscriber_id', 'received_at'], unique=False)
    op.create_table('customers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('partner_id', sa.String(length=36), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=50)), server_default='{}', nullable=False),
    sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('billing_address_line1', sa.String(length=200), nullable=True),
    sa.Column('billing_city', sa.String(length=100), nullable=True),
    sa.Column('billing_postal_code', sa.String(length=20), nullable=True),
    sa.Column('billing_country', sa.String(length=2), nullable=True),
    sa.Column('service_address_line1', sa.String(length=200), nullable=True),
    sa.Column('service_address_line2', sa.String(length=200), nullable=True),
    sa.Column('service_city', sa.String(length=100), nullable=True),
    sa.Column('service_state_province', sa.String(length=100), nullable=True),
    sa.Column('service_postal_code', sa.String(length=20), nullable=True),
    sa.Column('service_country', sa.String(length=2), nullable=True),
    sa.Column('service_latitude', sa.Float(), nullable=True),
    sa.Column('service_longitude', sa.Float(), nullable=True),
    sa.Column('installation_status', sa.String(length=20), nullable=True),
    sa.Column('installation_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scheduled_installation_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('installation_technician_id', sa.String(length=64), nullable=True),
    sa.Column('installation_notes', sa.Text(), nullable=True),
    sa.Column('connection_type', sa.String(length=20), nullable=True),
    sa.Column('last_mile_technology', sa.String(length=20), nullable=True),
    sa.Column('service_plan_speed', sa.String(length=50), nullable=True),
    sa.Column('assigned_devices', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('current_bandwidth_profile', sa.String(length=100), nullable=True),
    sa.Column('static_ip_assigned', sa.String(length=15), nullable=True),
    sa.Column('ipv6_prefix', sa.String(length=43), nullable=True),
    sa.Column('avg_uptime_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('last_outage_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total_outages', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total_downtime_minutes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(service_latitude IS NULL) = (service_longitude IS NULL) AND service_latitude BETWEEN -90 AND 90 AND service_longitude BETWEEN -180 AND 180', name=op.f('ck_customers_coordinates')),
    sa.CheckConstraint('avg_uptime_percent BETWEEN 0 AND 100', name=op.f('ck_customers_uptime_percent')),
    sa.CheckConstraint('total_outages >= 0 AND total_downtime_minutes >= 0', name=op.f('ck_customers_outage_counters')),
    sa.ForeignKeyConstraint(['tenant_id', 'partner_id'], ['partners.tenant_id', 'partners.id'], name=op.f('fk_customers_tenant_id_partners')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_customers'))
    )
    op.create_index('ix_customer_connection_type', 'customers', ['tenant_id', 'connection_type'], unique=False)
    op.create_index('ix_customer_created', 'customers', ['tenant_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_customer_installation_status', 'customers', ['tenant_id', 'installation_status'], unique=False)
    op.create_index('ix_customer_partner', 'customers', ['tenant_id', 'partner_id'], unique=False)
    op.create_index('ix_customer_region', 'customers', ['tenant_id', 'region'], unique=False)
    op.create_index('ix_customer_service_location', 'customers', ['tenant_id', 'service_country', sa.literal_column('lower(service_state_province)'), sa.literal_column('lower(service_city)')], unique=False)
    op.create_index('uq_customer_static_ip', 'customers', ['tenant_id', 'static_ip_assigned'], unique=True, postgresql_where='static_ip_assigned IS NOT NULL')
    op.create_table('subscribers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=253), nullable=False),
    sa.Column('plan_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'active', 'suspended', 'terminated')", name=op.f('ck_subscribers_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_subscribers_tenant_id_customers')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('tenant_id', 'username', name=op.f('uq_subscribers_tenant_id_username'))
    )
    op.create_index('ix_subscriber_customer', 'subscribers', ['tenant_id', 'customer_id'], unique=False)
    op.create_index('ix_subscriber_status', 'subscribers', ['tenant_id', 'status'], unique=False)
    op.create_table('subscriber_status_changes',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subscriber_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('previous_status', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('requested_by', sa.String(length=100), nullable=True),
    sa.Column('cause_event_id', sa.UUID(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'subscriber_id'], ['subscribers.tenant_id', 'subscribers.id'], name=op.f('fk_subscriber_status_changes_tenant_id_subscribers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber_status_changes'))
    )
    op.create_index('ix_status_change_subscriber', 'subscriber_status_changes', ['tenant_id', 'subscriber_id', 'changed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_status_change_subscriber', table_name='subscriber_status_changes')
    op.drop_table('subscriber_status_changes')
    op.drop_index('ix_subscriber_status', table_name='subscribers')
    op.drop_index('ix_subscriber_customer', table_name='subscribers')
    op.drop_table('subscribers')
    op.drop_index('uq_customer_static_ip', table_name='customers', postgresql_where='static_ip_assigned IS NOT NULL')
    op.drop_index('ix_customer_service_location', table_name='customers')
    op.drop_index('ix_customer_region', table_name='customers')
    op.drop_index('ix_customer_partner', table_name='customers')
    op.drop_index('ix_customer_installation_status', table_name='customers')
    op.drop_index('ix_customer_created', table_name='customers')
    op.drop_index('ix_customer_connection_type', table_name='customers')
    op.drop_table('customers')
    op.drop_index('ix_subscriber_request_subscriber', table_name='subscriber_requests')
    op.drop_table('subscriber_requests')
    op.drop_table('partners')
    drop_runtime_tables()
