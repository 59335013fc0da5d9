"""Helpers for the alerts tests: a reporting service whose clock the test moves (its alerts worker not looping),
a real SMTP server and webhook receiver, and a reader of the alert events on Kafka."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from bss_contracts import topics
from bss_runtime.auth import issue_token
from bss_runtime.clock import ManualClock
from bss_testkit.receivers import SmtpServer, WebhookReceiver
from reporting.alerts.service_layer import delivery, evaluation
from reporting.alerts.service_layer.deps import AlertsDeps
from reporting.config import Settings
from reporting.entrypoints.app import Reporting, create_app

from .reporting_support import Harness

SECRET = "alert-hook-secret"


@dataclass
class AlertsHarness(Harness):
    clock: ManualClock
    smtp: SmtpServer
    hook: WebhookReceiver

    @property
    def deps(self) -> AlertsDeps:
        return self.service.alerts

    async def call(self, method: str, path: str, tenant: str, *roles: str, **kwargs: Any) -> httpx.Response:
        token = issue_token(self.service.runtime.jwt, subject="tester", tenant_id=tenant, roles=roles or ("admin",))
        return await self.client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    async def req(self, method: str, path: str, tenant: str, *roles: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self.call(method, path, tenant, *roles, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    async def rule(self, tenant: str, **fields: Any) -> dict[str, Any]:
        body = {
            "name": "Usage dropped",
            "kind": "usage_drop",
            "parameters": {"threshold_percent": 20, "scope": "tenant", "window_hours": 24},
            "interval_seconds": 60,
            "email_to": [f"ops@{tenant}.example"],
            "webhook_url": self.hook.url,
            "webhook_secret": SECRET,
        } | fields
        result: dict[str, Any] = await self.req("POST", "/alerts/rules", tenant, json=body, status=201)
        return result

    async def round(self) -> tuple[int, int]:
        """One worker round, driven by the test: (rules evaluated, notifications sent)."""
        return await evaluation.evaluate_due(self.deps), await delivery.deliver_due(self.deps)

    def emails(self, tenant: str) -> list[str]:
        return [str(m["Subject"]) for m in self.smtp.to(f"ops@{tenant}.example")]

    def hooks(self, tenant: str) -> list[dict[str, Any]]:
        for headers, body in self.hook.requests:
            assert self.hook.signed(headers, body)
        return [b for b in self.hook.bodies() if b["tenant_id"] == tenant]


@asynccontextmanager
async def running_alerts(database_url: str, bootstrap: str, prefix: str) -> AsyncIterator[AlertsHarness]:
    smtp = SmtpServer().start()
    hook = WebhookReceiver(SECRET)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_prefix=prefix,
        bi_worker_enabled=False,
        alert_worker_enabled=False,
        smtp_port=smtp.port,
        alert_retry_backoff_seconds=60,
    )
    clock = ManualClock(datetime.now(UTC).replace(minute=30, second=0, microsecond=0))
    app = create_app(settings, bi_clock=clock)
    service: Reporting = app.state.service
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            service.runtime.running(),
            httpx.AsyncClient(transport=transport, base_url="http://reporting") as client,
        ):
            yield AlertsHarness(service, client, settings, clock, smtp, hook)
    finally:
        smtp.stop()
        hook.close()


async def alert_events(bootstrap: str, prefix: str, alert_ids: set[str]) -> list[tuple[str, str]]:
    """(event type, alert id) of every record on the alerts topic about these alerts, in order."""
    consumer = AIOKafkaConsumer(
        f"{prefix}{topics.ALERTS.name}",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found = []
        batches = await consumer.getmany(timeout_ms=3000)
        while batches:
            for records in batches.values():
                for record in records:
                    envelope = json.loads(record.value or b"{}")
                    if envelope["data"]["alert_id"] in alert_ids:
                        found.append((envelope["type"], envelope["data"]["alert_id"], envelope["time"]))
            batches = await consumer.getmany(timeout_ms=1000)
        return [(t, a) for t, a, _ in sorted(found, key=lambda f: f[2])]
    finally:
        await consumer.stop()
