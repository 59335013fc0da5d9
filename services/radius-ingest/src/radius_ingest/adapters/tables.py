"""The service's own tables: NAS clients, and the open-session tracker that closes sessions on Accounting-On/Off."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from bss_runtime.db import new_metadata
from bss_runtime.tables import add_runtime_tables

metadata = new_metadata()
runtime_tables = add_runtime_tables(metadata)

nas_clients = Table(
    "nas_clients",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("nas_id", String(128), nullable=False),
    # Canonical network ("192.0.2.10/32", "10.20.0.0/16"): one source address belongs to one tenant's client.
    Column("address", String(64), nullable=False, unique=True),
    # RADIUS needs the shared secret itself (it keys MD5): it cannot be stored hashed. Never returned by the API.
    Column("secret", String(255), nullable=False),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("tenant_id", "nas_id"),
)

# One row per session this service has published events for; `closed` once a Stop (real or synthesised) went out.
sessions = Table(
    "sessions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("session_key", String(64), primary_key=True),
    Column("nas_id", String(128), nullable=False),
    Column("nas_ip_address", String(64), nullable=False),
    Column("username", String(253), nullable=False),
    Column("last_event_time", DateTime(timezone=True), nullable=False),
    Column("last_event", JSONB, nullable=False),  # the latest session event's data: counters for a synthesised Stop
    Column("closed", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_sessions_open_by_nas", "tenant_id", "nas_id", "nas_ip_address", postgresql_where=text("NOT closed")),
    Index("ix_sessions_closed_updated", "updated_at", postgresql_where=text("closed")),
)

# The latest Accounting-On/Off per NAS: sessions of that NAS last heard of before it are over.
nas_resets = Table(
    "nas_resets",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("nas_id", String(128), primary_key=True),
    Column("nas_ip_address", String(64), primary_key=True),
    Column("reset_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(32), nullable=False),
)
