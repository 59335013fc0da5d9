"""The real customers service, in-process, on a test module's topics: a consumer group `customers` to watch."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from bss_runtime.auth import JwtConfig, issue_token
from customers.config import Settings
from customers.entrypoints.app import create_app


@dataclass
class Customers:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    def headers(self, tenant: str) -> dict[str, str]:
        s = self.settings
        token = issue_token(
            JwtConfig(s.jwt_secret, s.jwt_issuer, s.jwt_audience), subject="ops", tenant_id=tenant, roles=("admin",)
        )
        return {"Authorization": f"Bearer {token}"}

    async def active_subscriber(self, tenant: str) -> tuple[str, str]:
        """(customer id, subscriber id) of a new active subscriber."""
        headers = self.headers(tenant)
        created = await self.client.post("/customers", json={"name": "Late Payer"}, headers=headers)
        customer = created.json()["customer_id"]
        sub = await self.client.post(
            f"/customers/{customer}/subscribers", json={"username": f"{uuid.uuid4().hex[:8]}@isp"}, headers=headers
        )
        subscriber = sub.json()["subscriber_id"]
        assert (await self.client.post(f"/subscribers/{subscriber}/activate", headers=headers)).status_code == 200
        return customer, subscriber

    async def status(self, tenant: str, subscriber: str) -> str:
        response = await self.client.get(f"/subscribers/{subscriber}", headers=self.headers(tenant))
        return str(response.json()["status"])


@asynccontextmanager
async def running(database_url: str, bootstrap: str, prefix: str) -> AsyncIterator[Customers]:
    settings = Settings(
        service_name="customers",  # its group is <prefix>customers: the topic prefix stands in for the group prefix
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_prefix=prefix,
        outbox_poll_seconds=0.02,
        consumer_max_attempts=2,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://customers") as client,
    ):
        yield Customers(app, client, settings)
