"""The customers service's tables (its own database); every one carries tenant_id.

The Alembic revisions in `migrations/versions` create exactly these (a test compares the two).
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from bss_runtime.bulk import add_bulk_tables
from bss_runtime.db import new_metadata
from bss_runtime.tables import add_runtime_tables

metadata = new_metadata()
runtime_tables = add_runtime_tables(metadata)
bulk_tables = add_bulk_tables(metadata)  # bulk operations and their items (bss_runtime.bulk)

ID = String(36)  # UUID text
TENANT = String(64)

partners = Table(
    "partners",
    metadata,
    Column("tenant_id", TENANT, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "name"),
)

customers = Table(
    "customers",
    metadata,
    Column("tenant_id", TENANT, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320)),
    Column("phone", String(40)),
    Column("partner_id", ID),
    Column("region", String(64)),
    Column("tags", ARRAY(String(50)), nullable=False, server_default="{}"),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    # Billing address
    Column("billing_address_line1", String(200)),
    Column("billing_city", String(100)),
    Column("billing_postal_code", String(20)),
    Column("billing_country", String(2)),
    # Service address
    Column("service_address_line1", String(200)),
    Column("service_address_line2", String(200)),
    Column("service_city", String(100)),
    Column("service_state_province", String(100)),
    Column("service_postal_code", String(20)),
    Column("service_country", String(2)),
    Column("service_latitude", Float),
    Column("service_longitude", Float),
    # Installation tracking
    Column("installation_status", String(20)),
    Column("installation_date", DateTime(timezone=True)),
    Column("scheduled_installation_date", DateTime(timezone=True)),
    Column("installation_technician_id", String(64)),
    Column("installation_notes", Text),
    # Service details
    Column("connection_type", String(20)),
    Column("last_mile_technology", String(20)),
    Column("service_plan_speed", String(50)),
    # Network assignments
    Column("assigned_devices", JSONB),
    Column("current_bandwidth_profile", String(100)),
    Column("static_ip_assigned", String(15)),
    Column("ipv6_prefix", String(43)),
    # Service quality metrics
    Column("avg_uptime_percent", Numeric(5, 2)),
    Column("last_outage_date", DateTime(timezone=True)),
    Column("total_outages", Integer, nullable=False, server_default="0"),
    Column("total_downtime_minutes", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["tenant_id", "partner_id"], ["partners.tenant_id", "partners.id"]),
    CheckConstraint(
        "(service_latitude IS NULL) = (service_longitude IS NULL)"
        " AND service_latitude BETWEEN -90 AND 90 AND service_longitude BETWEEN -180 AND 180",
        name="coordinates",
    ),
    CheckConstraint("avg_uptime_percent BETWEEN 0 AND 100", name="uptime_percent"),
    CheckConstraint("total_outages >= 0 AND total_downtime_minutes >= 0", name="outage_counters"),
    # The indexes of seed 001 (the location one follows the table), led by tenant_id: every query filters on it.
    Index("ix_customer_installation_status", "tenant_id", "installation_status"),
    Index("ix_customer_connection_type", "tenant_id", "connection_type"),
    Index("ix_customer_partner", "tenant_id", "partner_id"),
    Index("ix_customer_region", "tenant_id", "region"),
    Index("ix_customer_created", "tenant_id", "created_at", "id"),
    # One static address belongs to one customer of a tenant.
    Index(
        "uq_customer_static_ip",
        "tenant_id",
        "static_ip_assigned",
        unique=True,
        postgresql_where="static_ip_assigned IS NOT NULL",
    ),
)

# City and state are matched case-insensitively, so the location index holds their lower-case forms.
Index(
    "ix_customer_service_location",
    customers.c.tenant_id,
    customers.c.service_country,
    func.lower(customers.c.service_state_province),
    func.lower(customers.c.service_city),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("tenant_id", TENANT, primary_key=True),
    Column("id", ID, primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("username", String(253), nullable=False),
    Column("plan_id", String(64)),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text),
    Column("status_changed_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    UniqueConstraint("tenant_id", "username"),
    CheckConstraint("status IN ('pending', 'active', 'suspended', 'terminated')", name="status"),
    Index("ix_subscriber_customer", "tenant_id", "customer_id"),
    Index("ix_subscriber_status", "tenant_id", "status"),
)

# Every status change, whoever asked: a user over HTTP (requested_by = the user id) or an event (cause_event_id).
subscriber_status_changes = Table(
    "subscriber_status_changes",
    metadata,
    Column("tenant_id", TENANT, nullable=False),
    Column("id", ID, primary_key=True),
    Column("subscriber_id", ID, nullable=False),
    Column("action", String(20), nullable=False),
    Column("previous_status", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("requested_by", String(100)),
    Column("cause_event_id", UUID(as_uuid=True)),
    Column("request_id", String(64)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["tenant_id", "subscriber_id"], ["subscribers.tenant_id", "subscribers.id"]),
    Index("ix_status_change_subscriber", "tenant_id", "subscriber_id", "changed_at"),
)

# Every request that arrived as an event, and what came of it (applied, no_op, rejected): requests that
# change nothing are still answered for, and the same request_id is never applied twice.
subscriber_requests = Table(
    "subscriber_requests",
    metadata,
    Column("tenant_id", TENANT, primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("action", String(20), nullable=False),
    Column("subscriber_id", ID, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("invoice_id", String(64)),
    Column("dunning_execution_id", String(64)),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("detail", Text),
    Index("ix_subscriber_request_subscriber", "tenant_id", "subscriber_id", "received_at"),
)
