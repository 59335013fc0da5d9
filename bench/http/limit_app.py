"""The limit of `POST /customers` on this machine: a minimal FastAPI endpoint on the services' runtime (uvicorn,
uvloop, httptools, the same number of worker processes) that does the same inserts as the customers service
(the customer row and its CustomerCreated outbox row, one transaction) with asyncpg directly: no auth, no
validation beyond JSON, no ORM, no middleware.

    LIMIT_DATABASE_URL=postgresql://... python -m uvicorn limit_app:app --app-dir bench/http --workers N

The database has the customers service's tables (bench/http/run.py migrates it).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response

POOL_SIZE = int(os.environ.get("LIMIT_POOL_SIZE", "16"))
TENANT = os.environ.get("LIMIT_TENANT", "bench-http")
CUSTOMER = (
    "INSERT INTO customers (tenant_id, id, name, email, billing_country, service_city, tags, timezone, "
    "total_outages, total_downtime_minutes, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, 'UTC', 0, 0, $8, $8)"
)
OUTBOX = (
    "INSERT INTO outbox (event_id, tenant_id, topic, key, event_type, payload, headers) "
    "VALUES ($1, $2, 'bss.customers.customer', $3, 'bss.customers.customer.created', $4, $5::jsonb)"
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["LIMIT_DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/customers", status_code=201)
async def create_customer(request: Request) -> Response:
    body: dict[str, Any] = json.loads(await request.body())
    customer_id, event_id, now = str(uuid.uuid4()), uuid.uuid4(), datetime.now(UTC)
    state = {"customer_id": customer_id, **body, "created_at": now.isoformat(), "updated_at": now.isoformat()}
    envelope = {"id": str(event_id), "type": "bss.customers.customer.created", "subject": customer_id, "data": state}
    headers = json.dumps({"ce_id": str(event_id), "ce_type": "bss.customers.customer.created", "tenant_id": TENANT})
    async with app.state.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            CUSTOMER, TENANT, customer_id, body["name"], body.get("email"), body.get("billing_country"),
            body.get("service_city"), body.get("tags", []), now,
        )  # fmt: skip
        await conn.execute(OUTBOX, event_id, TENANT, customer_id, json.dumps(envelope).encode(), headers)
    return Response(json.dumps(state), status_code=201, media_type="application/json")
