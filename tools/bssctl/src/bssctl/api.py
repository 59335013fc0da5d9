"""`bssctl serve`: the ops facts of bssctl over HTTP, for the operator console's Ops page (gateway: /ops/).

Why a bssctl process and not a route of a service: lag, dead letters and outbox backlogs are facts about the
deployment (the broker, every service's outbox), not about one service's domain. A service answering them would
have to read the other services' outbox tables, which no service may do. bssctl already reads them, as the
operator's tool with each database's URL; this process is that tool answering HTTP, with the same code
(`lag`, `dlq`, `outbox`), and it owns no table.

Routes (every one: a bearer token of the ops or admin role, verified as the services verify theirs,
`bss_runtime.auth`; OIDC tokens too when JWT_JWKS_URL is set):

- `GET /ops/lag[?service=S]`: per consumer group its state, members, total lag and oldest unconsumed age, and
  per partition committed, end, lag (`bssctl lag`);
- `GET /ops/dead-letters`: per registry topic, the records on its dead-letter twin (`bssctl metrics`'
  bss_dlq_depth) and how many of them are the caller's tenant's;
- `GET /ops/dead-letters/{topic}`: the caller's tenant's dead letters of one topic (`bssctl dlq list`);
- `POST /ops/dead-letters/redrive`: redrive the caller's tenant's dead letters (by event id or ref, by reason, or
  all of a topic); `dry_run` (the default) says what would be done (`bssctl dlq redrive`); the audit record
  names the caller;
- `GET /ops/outbox`: each service's outbox backlog and oldest unsent row (`bssctl outbox`);
- `GET /ops/health`: each service's `/readyz` (their URLs from OPS_SERVICE_URLS, `name=url,...`).

Tenancy: the broker and the outboxes are shared by every tenant of a deployment, so counts (lag, depth,
backlog) are the deployment's and carry no tenant's data; the dead letters themselves (event ids, types,
errors) are listed and redriven only for the caller's tenant (the envelope's `tenant_id`, else the record's
`tenant_id` header).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from bss_contracts.topics import ALL_TOPICS, Service
from bss_runtime.auth import JwtConfig, Principal, Role, require_roles
from bss_runtime.errors import RuleViolation
from bss_runtime.http import install_common_routes
from bss_runtime.inputs import Text
from bss_runtime.settings import ServiceSettings
from bssctl import dlq, inventory, outbox, trace
from bssctl.inventory import BadInput
from bssctl.kafka import Cluster
from bssctl.lag import lag as lag_of


class OpsSettings(ServiceSettings):
    """The services' settings (JWT_*, KAFKA_*, HTTP_PORT) plus the services to probe."""

    service_name: str = "bssctl"
    http_port: int = 8107
    ops_service_urls: str = Field(
        default="", description="name=url pairs, comma-separated: each service's base URL for /ops/health"
    )

    def service_urls(self) -> dict[str, str]:
        pairs = (p.split("=", 1) for p in self.ops_service_urls.split(",") if "=" in p)
        return {name.strip(): url.strip().rstrip("/") for name, url in pairs}


router = APIRouter(prefix="/ops", tags=["ops"])
Operator = Annotated[Principal, Depends(require_roles(Role.OPS))]
TopicName = Annotated[str, Text(200)]


def _settings(request: Request) -> OpsSettings:
    settings: OpsSettings = request.app.state.settings
    return settings


Settings = Annotated[OpsSettings, Depends(_settings)]


async def _cluster(settings: Settings) -> AsyncIterator[Cluster]:
    """The broker, for one request; unreachable answers 503."""
    try:
        cluster = Cluster(settings.kafka_bootstrap_servers, settings.kafka_topic_prefix, settings.kafka_group_prefix)
        await cluster.__aenter__()
    except Exception as exc:
        raise HTTPException(503, f"the broker did not answer: {type(exc).__name__}") from exc
    try:
        yield cluster
    finally:
        await cluster.__aexit__(None, None, None)


Broker = Annotated[Cluster, Depends(_cluster)]


def _bad(exc: BadInput, field: str) -> RuleViolation:
    return RuleViolation(str(exc), field=field)


def _tenant_of(letter: dlq.DeadLetter) -> str | None:
    envelope = letter.record.envelope
    return envelope.tenant_id if envelope is not None else letter.record.headers.get("tenant_id")


@router.get("/lag")
async def lag(_: Operator, cluster: Broker, service: Annotated[str, Text(40)] | None = None) -> dict[str, Any]:
    try:
        chosen = inventory.service(service) if service else None
    except BadInput as exc:
        raise _bad(exc, "service") from exc
    groups = []
    for summary, partitions in await lag_of(cluster, chosen):
        group = inventory.group(summary["group"])
        groups.append(summary | {"service": group.service.value, "partitions": [p.to_json() for p in partitions]})
    return {"groups": groups, "total_lag": sum(g["lag"] for g in groups)}


@router.get("/dead-letters")
async def dead_letter_counts(principal: Operator, cluster: Broker) -> dict[str, Any]:
    existing = await cluster.existing()
    topics = []
    for topic in ALL_TOPICS:
        depth, mine = 0, 0
        if topic.dead_letter in existing:
            tps = await cluster.partitions(topic.dead_letter)
            begins, ends = await cluster.beginning_offsets(tps), await cluster.end_offsets(tps)
            depth = sum(ends[tp] - begins[tp] for tp in tps)
            if depth:
                letters = await dlq.dead_letters(cluster, topic.name)
                mine = sum(1 for d in letters if _tenant_of(d) == principal.tenant_id)
        topics.append({"topic": topic.name, "dead_letter_topic": topic.dead_letter, "count": depth, "tenant": mine})
    return {"topics": topics, "total": sum(t["count"] for t in topics)}


@router.get("/dead-letters/{topic}")
async def dead_letters(topic: TopicName, principal: Operator, cluster: Broker) -> list[dict[str, Any]]:
    try:
        letters = await dlq.dead_letters(cluster, topic)
    except BadInput as exc:
        raise _bad(exc, "topic") from exc
    done = await dlq.redrives(cluster)
    return [d.summary(done) for d in letters if _tenant_of(d) == principal.tenant_id]


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: TopicName = Field(description="The registry topic (or its .dlq twin) whose dead letters to redrive")
    ids: list[Annotated[str, Text(300)]] = Field(default_factory=list, max_length=1000, description="Event ids or refs")
    reason: Annotated[str, Text(100)] | None = None
    all: bool = Field(default=False, description="Every dead letter of the topic (the caller's tenant's)")
    dry_run: bool = Field(default=True, description="Only say what would be redriven (the default)")
    force: bool = Field(default=False, description="Redrive again those already redriven")


@router.post("/dead-letters/redrive")
async def redrive(body: RedriveIn, principal: Operator, cluster: Broker) -> dict[str, Any]:
    try:
        letters = await dlq.dead_letters(cluster, body.topic)
    except BadInput as exc:
        raise _bad(exc, "topic") from exc
    own = [d for d in letters if _tenant_of(d) == principal.tenant_id]
    try:
        chosen = dlq.select(own, ids=body.ids, reason=body.reason, everything=body.all)
        results = await dlq.redrive(
            cluster,
            chosen,
            dry_run=body.dry_run,
            force=body.force,
            by=f"{principal.subject} ({principal.tenant_id}) via the console",
        )
    except BadInput as exc:
        raise _bad(exc, "ids") from exc
    return {"dry_run": body.dry_run, "results": results}


TRACE_WINDOW = timedelta(days=7)
TraceId = Annotated[str, Text(64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


@router.get("/trace/{id}")
async def trace_id(id: TraceId, principal: Operator, cluster: Broker) -> list[dict[str, Any]]:
    """The flow of an event id, correlation id or aggregate id over the last 7 days, as a causation tree."""
    try:
        return await trace.trace(cluster, id, datetime.now(UTC) - TRACE_WINDOW, tenant=principal.tenant_id)
    except BadInput as exc:
        raise HTTPException(404, f"no event of your tenant with this id in the last 7 days: {exc}") from exc


@router.get("/outbox")
async def outbox_backlog(_: Operator) -> list[dict[str, Any]]:
    rows = []
    for service in Service:
        try:
            rows.append(await outbox.backlog(service))
        except Exception as exc:  # that database did not answer: the others still show
            rows.append({"service": service.value, "configured": True, "error": f"{type(exc).__name__}: {exc}"})
    return rows


async def _probe(client: httpx.AsyncClient, name: str, url: str) -> dict[str, Any]:
    try:
        answer = await client.get(f"{url}/readyz")
    except httpx.HTTPError as exc:
        return {"service": name, "url": url, "ready": False, "status": None, "error": type(exc).__name__}
    try:
        checks = answer.json()
    except ValueError:
        checks = None
    return {"service": name, "url": url, "ready": answer.status_code == 200, "status": answer.status_code} | {
        "checks": checks
    }


@router.get("/health")
async def health(_: Operator, settings: Settings) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        return list(await asyncio.gather(*(_probe(client, n, u) for n, u in settings.service_urls().items())))


def create_app(settings: OpsSettings) -> FastAPI:
    app = FastAPI(title="bssctl ops API", version="0.1.0")
    app.state.settings = settings
    app.state.jwt = JwtConfig.from_settings(settings)

    async def broker_ready() -> None:
        async with Cluster(settings.kafka_bootstrap_servers, settings.kafka_topic_prefix) as cluster:
            await cluster.existing()

    install_common_routes(app, service=settings.service_name, checks={"kafka": broker_ready})
    app.include_router(router)
    return app
