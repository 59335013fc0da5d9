"""The ops API (`bssctl serve`, bssctl.api) on the real broker: only ops and admin tokens; dead letters counted
for the deployment but listed and redriven only for the caller's tenant; a redrive is a dry run unless asked;
bad names answer 422 naming the field."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.settings import DEFAULT_JWT_SECRET
from bssctl.api import OpsSettings, create_app

from .support import send

pytestmark = pytest.mark.timeout(120)
TOPIC = "bss.billing.sla"


def token(tenant: str, role: str) -> dict[str, str]:
    signed = issue_token(JwtConfig(secret=DEFAULT_JWT_SECRET), subject=f"{role}-user", tenant_id=tenant, roles=[role])
    return {"Authorization": f"Bearer {signed}"}


async def dead_letter(bootstrap: str, prefix: str, tenant: str, offset: int) -> str:
    """A dead letter as the consumer writes one: the original value and headers plus the dlq.* headers."""
    event_id = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0", "id": event_id, "source": "test", "type": "bss.billing.sla.breach-detected",
        "time": datetime.now(UTC).isoformat(), "subject": f"sla-{offset}", "schema_version": 1,
        "tenant_id": tenant, "correlation_id": event_id, "data": {},
    }  # fmt: skip
    headers = {
        "ce_type": "bss.billing.sla.breach-detected",
        "tenant_id": tenant,
        "dlq.reason": "invalid-payload",
        "dlq.error": "data: field required",
        "dlq.original.topic": prefix + TOPIC,
        "dlq.original.partition": "0",
        "dlq.original.offset": str(offset),
        "dlq.consumer.group": "reporting",
    }
    await send(
        bootstrap,
        prefix + TOPIC + ".dlq",
        [json.dumps(envelope).encode()],
        key=f"sla-{offset}".encode(),
        headers=[(k, v.encode()) for k, v in headers.items()],
    )
    return event_id


@pytest.fixture(scope="module")
async def api(kafka_bootstrap: str, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = OpsSettings(
        kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=prefix, kafka_group_prefix=prefix
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://ops", timeout=30) as client:
        yield client


async def test_only_ops_and_admin_tokens_pass(api: httpx.AsyncClient) -> None:
    assert (await api.get("/ops/lag")).status_code == 401
    for role in ("support", "finance", "collections"):
        assert (await api.get("/ops/lag", headers=token("isp-a", role))).status_code == 403
    answer = await api.get("/ops/lag", headers=token("isp-a", "ops"))
    assert answer.status_code == 200
    groups = {g["group"] for g in answer.json()["groups"]}
    assert {"customers", "billing", "dunning", "reporting"} <= groups
    assert (await api.get("/ops/lag", headers=token("isp-a", "admin"))).status_code == 200


async def test_bad_names_answer_422_naming_the_field(api: httpx.AsyncClient) -> None:
    answer = await api.get("/ops/lag", params={"service": "nope"}, headers=token("isp-a", "ops"))
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == "service"
    answer = await api.get("/ops/dead-letters/bss.nope", headers=token("isp-a", "ops"))
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == "topic"
    answer = await api.post("/ops/dead-letters/redrive", json={"topic": TOPIC}, headers=token("isp-a", "ops"))
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == "ids"  # nothing chosen


async def test_dead_letters_are_counted_for_all_but_shown_and_redriven_for_the_callers_tenant(
    api: httpx.AsyncClient, kafka_bootstrap: str, prefix: str
) -> None:
    mine = await dead_letter(kafka_bootstrap, prefix, "isp-a", 7)
    theirs = await dead_letter(kafka_bootstrap, prefix, "isp-b", 8)
    ops_a = token("isp-a", "ops")
    counts = {t["topic"]: t for t in (await api.get("/ops/dead-letters", headers=ops_a)).json()["topics"]}
    assert (counts[TOPIC]["count"], counts[TOPIC]["tenant"]) == (2, 1)
    assert all(t["count"] == 0 for name, t in counts.items() if name != TOPIC)
    listed = (await api.get(f"/ops/dead-letters/{TOPIC}", headers=ops_a)).json()
    assert [d["event_id"] for d in listed] == [mine]
    assert listed[0]["source"] == f"{prefix}{TOPIC}:0:7" and listed[0]["redriven"] == []

    # Another tenant's dead letter cannot be named, even by its id.
    refused = await api.post("/ops/dead-letters/redrive", json={"topic": TOPIC, "ids": [theirs]}, headers=ops_a)
    assert refused.status_code == 422 and theirs in refused.text

    dry = await api.post("/ops/dead-letters/redrive", json={"topic": TOPIC, "all": True}, headers=ops_a)
    assert dry.json() == {
        "dry_run": True,
        "results": [{"ref": listed[0]["ref"], "event_id": mine, "to": prefix + TOPIC, "action": "would redrive"}],
    }
    assert (await api.get(f"/ops/dead-letters/{TOPIC}", headers=ops_a)).json()[0]["redriven"] == []
    body = {"topic": TOPIC, "all": True, "dry_run": False}
    done = (await api.post("/ops/dead-letters/redrive", json=body, headers=ops_a)).json()
    [result] = done["results"]
    assert result["action"] == "redriven" and result["to"].startswith(f"{prefix}{TOPIC}:0:")
    [after] = (await api.get(f"/ops/dead-letters/{TOPIC}", headers=ops_a)).json()
    assert after["redriven"][0]["by"] == "ops-user (isp-a) via the console"
    # Tenant b still sees its own, never redriven.
    [b_view] = (await api.get(f"/ops/dead-letters/{TOPIC}", headers=token("isp-b", "ops"))).json()
    assert b_view["event_id"] == theirs and b_view["redriven"] == []
    # A second redrive skips the one already redriven.
    again = (await api.post("/ops/dead-letters/redrive", json=body, headers=ops_a)).json()
    assert [r["action"] for r in again["results"]] == ["skipped"]


async def test_health_probes_each_configured_service(kafka_bootstrap: str, prefix: str) -> None:
    down = "ghost=http://127.0.0.1:9"  # nothing listens on the discard port
    settings = OpsSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=prefix, ops_service_urls=down)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://ops", timeout=30) as client:
        [ghost] = (await client.get("/ops/health", headers=token("isp-a", "ops"))).json()
    assert (ghost["service"], ghost["url"], ghost["ready"], ghost["status"]) == (
        "ghost",
        "http://127.0.0.1:9",
        False,
        None,
    )


async def published(bootstrap: str, prefix: str, tenant: str, correlation: str, causation: str | None) -> str:
    """One event on the registry topic, as the relay publishes it."""
    event_id = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0", "id": event_id, "source": "test", "type": "bss.billing.sla.breach-detected",
        "time": datetime.now(UTC).isoformat(), "subject": f"sla-{event_id[:8]}", "schema_version": 1,
        "tenant_id": tenant, "correlation_id": correlation, "causation_id": causation, "data": {},
    }  # fmt: skip
    await send(bootstrap, prefix + TOPIC, [json.dumps(envelope).encode()], key=event_id.encode())
    return event_id


async def test_trace_shows_the_callers_tenants_flow_as_a_tree(
    api: httpx.AsyncClient, kafka_bootstrap: str, prefix: str
) -> None:
    flow = str(uuid.uuid4())
    root = await published(kafka_bootstrap, prefix, "isp-a", flow, None)
    child = await published(kafka_bootstrap, prefix, "isp-a", flow, root)
    await published(kafka_bootstrap, prefix, "isp-b", flow, root)  # another tenant's event in the same flow
    ops = token("isp-a", "ops")

    for ident in (root, flow):
        answer = await api.get(f"/ops/trace/{ident}", headers=ops)
        assert answer.status_code == 200, answer.text
        [node] = answer.json()
        assert (node["id"], node["topic"], node["tenant_id"]) == (root, TOPIC, "isp-a")
        assert [c["id"] for c in node["caused"]] == [child]

    # Another tenant sees only its own event, and nothing for an id of isp-a's only.
    [other] = (await api.get(f"/ops/trace/{flow}", headers=token("isp-b", "ops"))).json()
    assert other["tenant_id"] == "isp-b" and other["caused"] == []
    assert (await api.get(f"/ops/trace/{child}", headers=token("isp-b", "ops"))).status_code == 404
    assert (await api.get(f"/ops/trace/{uuid.uuid4()}", headers=ops)).status_code == 404
    bad = await api.get("/ops/trace/bad%20id!", headers=ops)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "id"
