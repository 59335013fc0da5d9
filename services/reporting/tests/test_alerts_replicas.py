"""Two reporting replicas at once, each with its alerts worker looping on the real clock, over one database:
every transition of every alert is notified exactly once (one email, one signed webhook)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bss_runtime.auth import issue_token
from bss_testkit.events import eventually
from bss_testkit.receivers import SmtpServer, WebhookReceiver
from reporting.config import Settings
from reporting.entrypoints.app import Reporting, create_app

from .alerts_support import SECRET
from .reporting_support import Harness, new_tenant, session_event

TENANTS = 4


async def _replica(stack: AsyncExitStack, settings: Settings) -> Harness:
    app = create_app(settings)
    service: Reporting = app.state.service
    await stack.enter_async_context(service.runtime.running())
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting")
    )
    return Harness(service, client, settings)


async def test_two_replicas_with_their_workers_notify_each_transition_once(
    fresh_database: Any, kafka_bootstrap: str, topic_prefix: str
) -> None:
    smtp = SmtpServer().start()
    hook = WebhookReceiver(SECRET)
    settings = Settings(
        database_url=await fresh_database("reporting_alert_replicas"),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"{topic_prefix}alr.",
        bi_worker_enabled=False,
        alert_poll_seconds=0.2,
        smtp_port=smtp.port,
    )
    try:
        async with AsyncExitStack() as stack:
            first = await _replica(stack, settings)
            await _replica(stack, settings)  # the second replica: same database, same consumer group
            tenants = [new_tenant() for _ in range(TENANTS)]
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            last_week = end - timedelta(days=7, hours=3)
            await first.publish(
                *[
                    (
                        session_event(
                            "stop",
                            f"{t}-lw",
                            "u",
                            start=last_week - timedelta(hours=1),
                            when=last_week,
                            octets_in=8_000,
                        ),
                        t,
                    )
                    for t in tenants
                ]
            )
            for tenant in tenants:
                token = issue_token(first.service.runtime.jwt, subject="t", tenant_id=tenant, roles=("ops",))
                body = {
                    "name": "Usage",
                    "kind": "usage_drop",
                    "parameters": {"threshold_percent": 20},
                    "interval_seconds": 10,
                    "email_to": [f"ops@{tenant}.example"],
                    "webhook_url": hook.url,
                    "webhook_secret": SECRET,
                }
                response = await first.client.post(
                    "/alerts/rules", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 201, response.text

            def subjects(tenant: str) -> list[str]:
                return [str(m["Subject"]) for m in smtp.to(f"ops@{tenant}.example")]

            async def all_fired() -> bool:
                return all(subjects(t) == ["[FIRING] Usage: tenant"] for t in tenants)

            await eventually(all_fired, timeout=60)
            await asyncio.sleep(12)  # both workers evaluate every rule again: nothing new to say
            assert all(subjects(t) == ["[FIRING] Usage: tenant"] for t in tenants)

            now = datetime.now(UTC)
            await first.publish(
                *[
                    (
                        session_event(
                            "stop",
                            f"{t}-now",
                            "u",
                            start=now - timedelta(hours=2),
                            when=now - timedelta(hours=1),
                            octets_in=9_000,
                        ),
                        t,
                    )
                    for t in tenants
                ]
            )

            async def all_resolved() -> bool:
                return all(len(subjects(t)) == 2 for t in tenants)

            await eventually(all_resolved, timeout=60)
            await asyncio.sleep(12)
            for tenant in tenants:
                assert subjects(tenant) == ["[FIRING] Usage: tenant", "[RESOLVED] Usage: tenant"]
            bodies = [(b["tenant_id"], b["event"]) for b in hook.bodies()]
            assert sorted(bodies) == sorted((t, e) for t in tenants for e in ("alert.firing", "alert.resolved"))
            assert all(hook.signed(h, b) for h, b in hook.requests)
    finally:
        smtp.stop()
        hook.close()
