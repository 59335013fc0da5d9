"""Customers over HTTP, and their events on Kafka: the 23 ISP fields, validation, search, tenancy."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from bss_contracts import topics
from bss_contracts.events.customers import CustomerState
from bss_testkit.events import EventProbe, eventually
from bss_testkit.plugin import plain_postgres_url

from .support import full_customer, new_tenant

pytestmark = pytest.mark.timeout(120)

ISP_FIELDS = [
    "service_address_line1",
    "service_address_line2",
    "service_city",
    "service_state_province",
    "service_postal_code",
    "service_country",
    "service_coordinates",
    "installation_status",
    "installation_date",
    "scheduled_installation_date",
    "installation_technician_id",
    "installation_notes",
    "connection_type",
    "last_mile_technology",
    "service_plan_speed",
    "assigned_devices",
    "current_bandwidth_profile",
    "static_ip_assigned",
    "ipv6_prefix",
    "avg_uptime_percent",
    "last_outage_date",
    "total_outages",
    "total_downtime_minutes",
]


async def test_create_read_and_announce_a_customer_with_every_isp_field(service, tenant, kafka_bootstrap):
    headers = service.headers(tenant, "support")
    created = await service.client.post("/customers", json=full_customer(), headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    customer_id = body["customer_id"]
    # Normal forms: country codes upper-cased, the MAC in colon notation, the IPv6 prefix compressed, times UTC.
    assert body["billing_country"] == "GB"
    assert body["service_coordinates"] == {"lat": 53.4808, "lon": -2.2426}
    assert body["assigned_devices"] == {
        "onu_serial": "HWTC1234ABCD",
        "cpe_mac": "aa:bb:cc:00:11:22",
        "router_id": "r-9",
    }
    assert body["ipv6_prefix"] == "2001:db8:1200::/56"
    assert body["static_ip_assigned"] == "198.51.100.7"
    assert body["installation_date"] == "2025-02-01T09:30:00Z"
    assert body["avg_uptime_percent"] == 99.95
    assert (body["total_outages"], body["total_downtime_minutes"]) == (2, 47)
    assert body["tags"] == ["vip", "fiber"]
    assert all(body[f] is not None for f in ISP_FIELDS), [f for f in ISP_FIELDS if body[f] is None]

    read = await service.client.get(f"/customers/{customer_id}", headers=service.headers(tenant, "finance"))
    assert read.status_code == 200
    assert read.json() == body

    async with EventProbe(kafka_bootstrap, service.settings.kafka_topic_prefix, topics.CUSTOMERS) as probe:
        [event] = await probe.wait_for(lambda e: e.subject == customer_id)
    assert event.type == "bss.customers.customer.created"
    assert event.tenant_id == tenant
    assert event.data["customer_id"] == customer_id
    assert CustomerState.model_validate(event.data["customer"]) == CustomerState.model_validate(body)


async def test_update_changes_only_given_fields_and_announces_the_full_state(service, tenant, kafka_bootstrap):
    headers = service.headers(tenant, "ops")
    customer = (await service.client.post("/customers", json=full_customer(), headers=headers)).json()
    cid = customer["customer_id"]

    same = await service.client.patch(f"/customers/{cid}", json={"service_city": "Manchester"}, headers=headers)
    assert same.status_code == 200 and same.json() == customer  # nothing changed: no event, no new updated_at

    patch = {"service_city": "Salford", "installation_notes": None, "service_coordinates": {"lat": 53.49, "lon": -2.29}}
    updated = await service.client.patch(f"/customers/{cid}", json=patch, headers=headers)
    assert updated.status_code == 200, updated.text
    after = updated.json()
    assert after["service_city"] == "Salford"
    assert after["installation_notes"] is None
    assert after["service_coordinates"] == {"lat": 53.49, "lon": -2.29}
    assert after["updated_at"] > customer["updated_at"]
    unchanged = set(customer) - {"service_city", "installation_notes", "service_coordinates", "updated_at"}
    assert {k: after[k] for k in unchanged} == {k: customer[k] for k in unchanged}

    async with EventProbe(kafka_bootstrap, service.settings.kafka_topic_prefix, topics.CUSTOMERS) as probe:
        await probe.wait_for(lambda e: e.subject == cid, count=2)
        events = [e for e in await probe.settle(0.5) if e.subject == cid]
    # Created, then exactly one update (the no-op PATCH announced nothing), in order, carrying the whole customer.
    assert [e.type for e in events] == ["bss.customers.customer.created", "bss.customers.customer.updated"]
    update = events[1].data
    assert update["changed_fields"] == ["service_city", "installation_notes", "service_coordinates"]
    assert CustomerState.model_validate(update["customer"]) == CustomerState.model_validate(after)


async def test_bad_input_answers_422_naming_each_field_and_reason(service, tenant):
    headers = service.headers(tenant, "admin")
    bad = full_customer(
        billing_country="XX",
        service_country="Germany",
        static_ip_assigned="256.1.1.1",
        ipv6_prefix="2001:db8::1/56",  # host bits set: not a prefix
        service_coordinates={"lat": 91, "lon": -181},
        installation_status="done",
        connection_type="carrier-pigeon",
        last_mile_technology="adsl",
        email="not-an-email",
        timezone="Mars/Olympus",
        avg_uptime_percent=100.5,
        total_outages=-1,
        assigned_devices={"cpe_mac": "zz:bb:cc:00:11:22"},
    )
    response = await service.client.post("/customers", json=bad, headers=headers)
    assert response.status_code == 422
    errors = {tuple(e["loc"][1:]): e["msg"] for e in response.json()["detail"]}
    assert set(errors) == {
        ("billing_country",), ("service_country",), ("static_ip_assigned",), ("ipv6_prefix",),
        ("service_coordinates", "lat"), ("service_coordinates", "lon"), ("installation_status",),
        ("connection_type",), ("last_mile_technology",), ("email",), ("timezone",), ("avg_uptime_percent",),
        ("total_outages",), ("assigned_devices", "cpe_mac"),
    }  # fmt: skip
    assert "'XX' is not an ISO 3166-1 alpha-2 country code" in errors[("billing_country",)]
    assert "not an IPv4 address" in errors[("static_ip_assigned",)]
    assert "has host bits set" in errors[("ipv6_prefix",)]
    assert "outside -90..90" in errors[("service_coordinates", "lat")]
    assert "outside -180..180" in errors[("service_coordinates", "lon")]

    missing = await service.client.post("/customers", json={"email": "a@b.org"}, headers=headers)
    assert missing.status_code == 422
    assert [e["loc"] for e in missing.json()["detail"]] == [["body", "name"]]

    no_length = await service.client.post(
        "/customers", json={"name": "x", "ipv6_prefix": "2001:db8::"}, headers=headers
    )
    assert no_length.status_code == 422
    assert "prefix length (/NN) is missing" in no_length.json()["detail"][0]["msg"]

    typo = await service.client.post("/customers", json={"name": "x", "service_cty": "Oslo"}, headers=headers)
    assert typo.status_code == 422 and typo.json()["detail"][0]["loc"] == ["body", "service_cty"]

    cid = (await service.client.post("/customers", json={"name": "Grace"}, headers=headers)).json()["customer_id"]
    nulled = await service.client.patch(f"/customers/{cid}", json={"name": None, "tags": None}, headers=headers)
    assert nulled.status_code == 422
    assert {tuple(e["loc"]) for e in nulled.json()["detail"]} == {("body", "name"), ("body", "tags")}

    unknown_partner = await service.client.patch(f"/customers/{cid}", json={"partner_id": "p-404"}, headers=headers)
    assert unknown_partner.status_code == 422
    assert unknown_partner.json()["detail"] == [
        {"loc": ["body", "partner_id"], "msg": "unknown partner 'p-404'", "type": "RuleViolation"}
    ]


async def test_a_static_ipv4_address_belongs_to_one_customer_of_a_tenant(service, tenant):
    headers = service.headers(tenant)
    first = await service.client.post(
        "/customers", json={"name": "A", "static_ip_assigned": "203.0.113.9"}, headers=headers
    )
    assert first.status_code == 201
    second = await service.client.post(
        "/customers", json={"name": "B", "static_ip_assigned": "203.0.113.9"}, headers=headers
    )
    assert second.status_code == 409
    assert second.json()["detail"][0]["loc"] == ["body", "static_ip_assigned"]
    other_tenant = new_tenant()
    elsewhere = await service.client.post(
        "/customers", json={"name": "C", "static_ip_assigned": "203.0.113.9"}, headers=service.headers(other_tenant)
    )
    assert elsewhere.status_code == 201


async def test_list_filters_by_the_seed_search_fields_and_pages(service, tenant):
    headers = service.headers(tenant)
    rows = [
        ("c0", "completed", "ftth", "Berlin", "Berlin", "DE"),
        ("c1", "pending", "ftth", "Berlin", "Berlin", "DE"),
        ("c2", "completed", "dsl", "Munich", "Bavaria", "DE"),
        ("c3", "completed", "ftth", "berlin", "BERLIN", "DE"),
        ("c4", "completed", "ftth", "Vienna", "Vienna", "AT"),
        ("c5", "completed", "ftth", "Berlin", "Berlin", "DE"),
    ]
    for name, inst, conn, city, state, country in rows:
        body = {"name": name, "installation_status": inst, "connection_type": conn, "service_city": city,
                "service_state_province": state, "service_country": country}  # fmt: skip
        assert (await service.client.post("/customers", json=body, headers=headers)).status_code == 201

    async def names(**params: Any) -> tuple[list[str], int]:
        response = await service.client.get("/customers", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        return [c["name"] for c in page["items"]], page["total"]

    assert await names() == (["c0", "c1", "c2", "c3", "c4", "c5"], 6)
    assert await names(installation_status="pending") == (["c1"], 1)
    assert await names(connection_type="dsl") == (["c2"], 1)
    assert await names(service_country="at") == (["c4"], 1)
    assert await names(service_state_province="bavaria") == (["c2"], 1)
    # City matches ignore case; filters combine.
    berlin = {
        "service_city": "BERLIN",
        "service_country": "DE",
        "installation_status": "completed",
        "connection_type": "ftth",
    }
    assert await names(**berlin) == (["c0", "c3", "c5"], 3)
    assert await names(**berlin, limit=2) == (["c0", "c3"], 3)
    assert await names(**berlin, limit=2, offset=2) == (["c5"], 3)
    assert await names(**berlin, offset=3) == ([], 3)

    bad = await service.client.get("/customers", params={"service_country": "ZZ", "limit": 0}, headers=headers)
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {("query", "service_country"), ("query", "limit")}


async def test_a_tenant_sees_only_its_own_customers(service, tenant):
    mine = service.headers(tenant)
    theirs = service.headers(new_tenant())
    cid = (await service.client.post("/customers", json={"name": "Private"}, headers=mine)).json()["customer_id"]

    assert (await service.client.get(f"/customers/{cid}", headers=theirs)).status_code == 404
    assert (await service.client.patch(f"/customers/{cid}", json={"name": "Taken"}, headers=theirs)).status_code == 404
    listed = (await service.client.get("/customers", headers=theirs)).json()
    assert listed["total"] == 0 and listed["items"] == []
    sub = await service.client.post(f"/customers/{cid}/subscribers", json={"username": "x@isp"}, headers=theirs)
    assert sub.status_code == 404
    assert (await service.client.get(f"/customers/{cid}", headers=mine)).json()["name"] == "Private"


async def test_roles_and_tokens(service, tenant):
    body = {"name": "Roles"}
    assert (await service.client.post("/customers", json=body)).status_code == 401
    bad_token = {"Authorization": "Bearer not-a-jwt"}
    assert (await service.client.get("/customers", headers=bad_token)).status_code == 401
    for role in ("finance", "collections"):
        headers = service.headers(tenant, role)
        assert (await service.client.post("/customers", json=body, headers=headers)).status_code == 403
        assert (await service.client.get("/customers", headers=headers)).status_code == 200
    for role in ("admin", "support", "ops"):
        assert (
            await service.client.post("/customers", json=body, headers=service.headers(tenant, role))
        ).status_code == 201


async def test_partners_crud_and_customers_that_belong_to_them(service, tenant, kafka_bootstrap):
    headers = service.headers(tenant)
    created = await service.client.post("/partners", json={"name": "FiberCo Resellers"}, headers=headers)
    assert created.status_code == 201
    pid = created.json()["partner_id"]
    duplicate = await service.client.post("/partners", json={"name": "FiberCo Resellers"}, headers=headers)
    assert duplicate.status_code == 409

    renamed = await service.client.patch(f"/partners/{pid}", json={"name": "FiberCo"}, headers=headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "FiberCo"
    assert [p["name"] for p in (await service.client.get("/partners", headers=headers)).json()] == ["FiberCo"]
    assert (await service.client.get(f"/partners/{pid}", headers=service.headers(new_tenant()))).status_code == 404

    customer = await service.client.post("/customers", json={"name": "Via partner", "partner_id": pid}, headers=headers)
    assert customer.status_code == 201
    cid = customer.json()["customer_id"]
    listed = (await service.client.get("/customers", params={"partner_id": pid}, headers=headers)).json()
    assert [c["customer_id"] for c in listed["items"]] == [cid]

    in_use = await service.client.delete(f"/partners/{pid}", headers=headers)
    assert in_use.status_code == 409
    await service.client.patch(f"/customers/{cid}", json={"partner_id": None}, headers=headers)
    assert (await service.client.delete(f"/partners/{pid}", headers=headers)).status_code == 204
    assert (await service.client.get(f"/partners/{pid}", headers=headers)).status_code == 404

    async with EventProbe(kafka_bootstrap, service.settings.kafka_topic_prefix, topics.CUSTOMERS) as probe:
        events = await probe.wait_for(lambda e: e.subject == cid, count=2)
    assert [e.data["customer"]["partner_id"] for e in events] == [pid, None]
    assert events[1].data["changed_fields"] == ["partner_id"]

    # The partner's own events, keyed by partner on the compacted partner topic: created, then renamed once (the
    # 409 duplicate and the delete publish nothing).
    async with EventProbe(kafka_bootstrap, service.settings.kafka_topic_prefix, topics.PARTNERS) as probe:
        partner_events = await probe.wait_for(lambda e: e.subject == pid, count=2)
    assert [e.type for e in partner_events] == ["bss.customers.partner.created", "bss.customers.partner.updated"]
    assert [e.data["partner"]["name"] for e in partner_events] == ["FiberCo Resellers", "FiberCo"]
    assert partner_events[1].data["changed_fields"] == ["name"]
    assert {e.tenant_id for e in partner_events} == {tenant}


async def test_connections_lost_to_a_database_restart_cost_no_request(service, tenant, kafka_bootstrap):
    """Customers takes pool connections without a ping (DB_POOL_PRE_PING=false, bench/http); PostgreSQL closing
    every connection of the service's database, as a restart does, must still fail no request after it."""
    assert service.settings.db_pool_pre_ping is False
    headers = service.headers(tenant, "support")

    async def create(name: str) -> str:
        created = await service.client.post("/customers", json={"name": name}, headers=headers)
        assert created.status_code == 201, created.text
        return str(created.json()["customer_id"])

    for n in range(4):  # connections in the pool
        await create(f"Before {n}")
    database = service.settings.database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(plain_postgres_url(service.settings.database_url))
    try:
        ended = await admin.fetchval(
            "SELECT array_agg(pid) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        assert ended

        async def gone() -> bool:
            return await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = any($1)", ended) == 0

        await eventually(gone, timeout=10)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)  # the service's event loop reads the closed sockets
    after = [await create(f"After {n}") for n in range(8)]  # each one 201: no request on a dead connection

    async with EventProbe(kafka_bootstrap, service.settings.kafka_topic_prefix, topics.CUSTOMERS) as probe:
        events = await probe.wait_for(lambda e: e.subject in after, count=len(after))
    assert {e.subject for e in events} == set(after)  # and the relay still publishes
