"""Every service's common HTTP surface: health, readiness against the real DB and broker, metrics, JWT roles."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends

from bss_runtime.auth import JwtConfig, Principal, Role, issue_token, require_roles
from bss_runtime.errors import RuleViolation
from bss_runtime.service import ServiceRuntime
from bss_runtime.settings import ServiceSettings

from .support import tables

router = APIRouter()


@router.get("/whoami")
async def whoami(principal: Annotated[Principal, Depends(require_roles(Role.FINANCE))]) -> dict[str, str]:
    return {"tenant": principal.tenant_id, "subject": principal.subject}


@router.post("/rule")
async def rule() -> None:
    raise RuleViolation("invoice is void", field="invoice_id")


async def test_health_readiness_metrics_and_roles(fresh_database, kafka_bootstrap, topic_prefix):
    url = await fresh_database("http")
    settings = ServiceSettings(
        service_name="httptest", database_url=url, kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"{topic_prefix}http.",
    )  # fmt: skip
    runtime = ServiceRuntime(settings, tables)
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(tables.outbox.metadata.create_all)
    app = runtime.http_app(router, title="t")
    jwt = JwtConfig(settings.jwt_secret)
    transport = httpx.ASGITransport(app=app)
    async with runtime.running(), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}

        assert (await client.get("/whoami")).status_code == 401
        bad = await client.get("/whoami", headers={"Authorization": "Bearer not-a-jwt"})
        assert bad.status_code == 401
        support = issue_token(jwt, subject="u1", tenant_id="acme", roles=["support"])
        assert (await client.get("/whoami", headers=_bearer(support))).status_code == 403
        finance = issue_token(jwt, subject="u2", tenant_id="acme", roles=["finance"])
        cid = str(uuid.uuid4())
        ok = await client.get("/whoami", headers=_bearer(finance) | {"x-correlation-id": cid})
        assert ok.json() == {"tenant": "acme", "subject": "u2"}
        assert ok.headers["x-correlation-id"] == cid
        expired = issue_token(jwt, subject="u3", tenant_id="acme", roles=["admin"], ttl=timedelta(seconds=-1))
        assert (await client.get("/whoami", headers=_bearer(expired))).status_code == 401
        forged = issue_token(JwtConfig("another-secret-that-is-at-least-32-bytes"), subject="u", tenant_id="acme",
                             roles=["admin"])  # fmt: skip
        assert (await client.get("/whoami", headers=_bearer(forged))).status_code == 401

        rule = await client.post("/rule")
        assert rule.status_code == 422
        assert rule.json()["detail"][0]["loc"] == ["body", "invoice_id"]

        metrics = (await client.get("/metrics")).text
        assert 'bss_http_request_seconds_count{method="GET",route="/whoami",service="httptest",status="200"}' in (
            metrics
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
