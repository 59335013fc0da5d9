"""Business alerts end to end: session events through Kafka into the read model, a usage-drop rule evaluated
on the test's clock, its alert pending -> firing -> resolved with exactly one email (real SMTP server) and one
signed webhook per transition, the transitions as events on Kafka; silences; two evaluators and two senders at
once; NAS capacity; bad input; tenant isolation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bss_contracts import topics
from bss_runtime.db import Database
from bss_testkit.events import eventually
from reporting.alerts.adapters import repository as repo
from reporting.alerts.adapters.measures import KafkaProbe
from reporting.alerts.service_layer import delivery, evaluation
from reporting.alerts.service_layer.deps import AlertsDeps

from .alerts_support import AlertsHarness, alert_events, running_alerts
from .reporting_support import breach, invoice, new_tenant, session_event, subscription_ended, subscription_started


@pytest.fixture(scope="module")
async def env(fresh_database: Any, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[AlertsHarness]:
    async with running_alerts(await fresh_database("reporting_alerts"), kafka_bootstrap, f"{topic_prefix}al.") as h:
        yield h


@pytest.fixture(autouse=True)
async def _earlier_rules_off(env: AlertsHarness) -> None:
    """The tests share one service and clock: rules of earlier tests stop, so a round's counts are this test's."""
    await env.execute("UPDATE alerts.alert_rules SET enabled = false")


def _window_end(env: AlertsHarness) -> Any:
    return env.clock.now().replace(minute=0, second=0, microsecond=0)


async def _usage(env: AlertsHarness, tenant: str, key: str, stop_at: Any, octets: int, nas_id: str = "nas-1") -> None:
    """One session of one hour stopped at `stop_at`, with `octets` bytes in (through Kafka, applied)."""
    await env.publish(
        (
            session_event(
                "stop",
                f"{tenant}-{key}",
                f"user-{key}",
                start=stop_at - timedelta(hours=1),
                when=stop_at,
                seconds=3600,
                octets_in=octets,
                nas_id=nas_id,
            ),
            tenant,
        ),
    )


async def test_a_usage_drop_goes_pending_firing_resolved_with_one_email_and_one_webhook_per_transition(
    env: AlertsHarness,
) -> None:
    tenant = new_tenant()
    end = _window_end(env)
    await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=2), 10_000)
    await _usage(env, tenant, "today", end - timedelta(hours=2), 5_000)  # 50 % below the same hours last week
    rule = await env.rule(tenant, for_seconds=600)

    assert await env.round() == (1, 0)
    [pending] = await env.req("GET", "/alerts", tenant, params={"state": "pending"})
    assert (pending["subject"], pending["value"], pending["threshold"]) == ("tenant", 50.0, 20.0)
    assert env.emails(tenant) == [] and env.hooks(tenant) == []

    env.clock.advance(timedelta(minutes=5))
    assert await env.round() == (1, 0)  # evaluated again, still waiting out its `for`
    assert [a["state"] for a in await env.req("GET", "/alerts", tenant)] == ["pending"]

    env.clock.advance(timedelta(minutes=5))
    assert await env.round() == (1, 2)
    [firing] = await env.req("GET", "/alerts", tenant, params={"state": "firing"})
    assert firing["alert_id"] == pending["alert_id"]
    assert env.emails(tenant) == ["[FIRING] Usage dropped: tenant"]
    [hook] = env.hooks(tenant)
    assert (hook["event"], hook["alert_id"], hook["value"]) == ("alert.firing", firing["alert_id"], 50.0)

    env.clock.advance(timedelta(minutes=1))
    assert await env.round() == (1, 0)  # still firing: no duplicate, the reminder is 4 h away
    assert len(env.emails(tenant)) == 1 and len(env.hooks(tenant)) == 1

    await _usage(env, tenant, "later", end - timedelta(hours=1), 6_000)  # 11,000 bytes now: no drop
    env.clock.advance(timedelta(minutes=1))
    assert await env.round() == (1, 2)
    [resolved] = await env.req("GET", "/alerts", tenant, params={"state": "resolved"})
    assert resolved["alert_id"] == firing["alert_id"] and resolved["resolved_at"] is not None
    assert env.emails(tenant) == ["[FIRING] Usage dropped: tenant", "[RESOLVED] Usage dropped: tenant"]
    assert [h["event"] for h in env.hooks(tenant)] == ["alert.firing", "alert.resolved"]
    detail = await env.req("GET", f"/alerts/{firing['alert_id']}", tenant)
    assert sorted((n["transition"], n["channel"], n["status"]) for n in detail["notifications"]) == [
        ("firing", "email", "delivered"),
        ("firing", "webhook", "delivered"),
        ("resolved", "email", "delivered"),
        ("resolved", "webhook", "delivered"),
    ]
    assert rule["rule_id"] == firing["rule_id"]

    async def on_kafka() -> bool:
        found = await alert_events(
            env.settings.kafka_bootstrap_servers, env.settings.kafka_topic_prefix, {firing["alert_id"]}
        )
        return found == [
            ("bss.reporting.alert.firing", firing["alert_id"]),
            ("bss.reporting.alert.resolved", firing["alert_id"]),
        ]

    await eventually(on_kafka, timeout=60)


async def test_no_notification_during_a_silence_and_events_still_written(env: AlertsHarness) -> None:
    tenant = new_tenant()
    end = _window_end(env)
    await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=3), 8_000)
    rule = await env.rule(tenant)
    await env.req(
        "POST",
        "/alerts/silences",
        tenant,
        status=201,
        json={"rule_id": rule["rule_id"], "ends_at": (env.clock.now() + timedelta(hours=1)).isoformat()},
    )

    assert await env.round() == (1, 0)  # 100 % drop: fires at once (for = 0), silenced
    [firing] = await env.req("GET", "/alerts", tenant, params={"state": "firing"})
    assert firing["last_notified_at"] is None
    await _usage(env, tenant, "today", end - timedelta(hours=2), 8_000)
    env.clock.advance(timedelta(minutes=2))
    assert await env.round() == (1, 0)  # resolved, still silenced
    assert [a["state"] for a in await env.req("GET", "/alerts", tenant)] == ["resolved"]
    assert env.emails(tenant) == [] and env.hooks(tenant) == []
    outbox = await env.scalar(
        "SELECT count(*) FROM readmodel.outbox WHERE tenant_id = :t AND topic LIKE '%bss.reporting.alert'",
        t=tenant,
    )
    assert outbox == 2  # AlertFiring and AlertResolved: the record is kept, only the people are not told

    # After the silence, a new drop is notified again.
    env.clock.advance(timedelta(hours=1))
    await _usage(env, tenant, "last-week-2", env.clock.now().replace(minute=0) - timedelta(days=7, hours=1), 100_000)
    assert await env.round() == (1, 2)
    assert env.emails(tenant) == ["[FIRING] Usage dropped: tenant"]


async def test_a_firing_alert_silenced_then_unsilenced_is_reminded_and_acknowledged_is_not(env: AlertsHarness) -> None:
    tenant = new_tenant()
    end = _window_end(env)
    await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=3), 8_000)
    rule = await env.rule(tenant, repeat_seconds=3600)
    assert await env.round() == (1, 2)
    silence = await env.req(
        "POST",
        "/alerts/silences",
        tenant,
        status=201,
        json={
            "rule_id": rule["rule_id"],
            "subject": "tenant",
            "ends_at": (env.clock.now() + timedelta(hours=3)).isoformat(),
        },
    )
    env.clock.advance(timedelta(hours=2))
    assert await env.round() == (1, 0)  # a reminder was due, silenced
    await env.req("DELETE", f"/alerts/silences/{silence['silence_id']}", tenant, status=204)
    env.clock.advance(timedelta(minutes=1))
    assert await env.round() == (1, 2)
    assert env.emails(tenant) == ["[FIRING] Usage dropped: tenant", "[STILL FIRING] Usage dropped: tenant"]
    [firing] = await env.req("GET", "/alerts", tenant, params={"state": "firing"})
    acked = await env.req("POST", f"/alerts/{firing['alert_id']}/acknowledge", tenant, "ops")
    assert acked["acknowledged_by"] == "tester"
    env.clock.advance(timedelta(hours=2))
    assert await env.round() == (1, 0)  # acknowledged: no reminder


async def test_two_evaluators_and_two_senders_at_once_notify_each_transition_once(env: AlertsHarness) -> None:
    tenants = [new_tenant() for _ in range(6)]
    end = _window_end(env)
    for tenant in tenants:
        await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=3), 8_000)
        await env.rule(tenant)
    replicas = [Database(env.settings.database_url, pool_size=3) for _ in range(2)]
    twins = [
        AlertsDeps(
            db,
            env.deps.read_schema,
            env.settings,
            env.clock,
            env.deps.events,
            env.deps.kafka,
            env.deps.mailer,
            env.deps.webhooks,
        )
        for db in replicas
    ]
    try:
        evaluated = await asyncio.gather(*(evaluation.evaluate_due(t) for t in twins))
        assert sum(evaluated) == len(tenants)
        sent = await asyncio.gather(*(delivery.deliver_due(t) for t in twins))
        assert sum(sent) == 2 * len(tenants)
    finally:
        for db in replicas:
            await db.close()
    for tenant in tenants:
        assert env.emails(tenant) == ["[FIRING] Usage dropped: tenant"]
        assert [h["event"] for h in env.hooks(tenant)] == ["alert.firing"]
        assert len(await env.req("GET", "/alerts", tenant)) == 1


async def test_nas_concurrency_peak_against_its_configured_capacity(env: AlertsHarness) -> None:
    tenant = new_tenant()
    now = env.clock.now()
    opened = now - timedelta(minutes=10)
    events = [
        (session_event("start", f"{tenant}-open-{i}", f"u{i}", start=opened, when=opened, nas_id="bng-7"), tenant)
        for i in range(3)
    ]
    # A fourth session overlapped them and ended: the peak (4) is above what is online now (3).
    short = now - timedelta(minutes=20)
    events += [
        (session_event("start", f"{tenant}-short", "u9", start=short, when=short, nas_id="bng-7"), tenant),
        (
            session_event(
                "stop",
                f"{tenant}-short",
                "u9",
                start=short,
                when=now - timedelta(minutes=5),
                seconds=900,
                nas_id="bng-7",
            ),
            tenant,
        ),
        (session_event("start", f"{tenant}-elsewhere", "u8", start=opened, when=opened, nas_id="bng-8"), tenant),
    ]
    await env.publish(*events)
    capacity = await env.req("PUT", "/alerts/nas-capacities/bng-7", tenant, "ops", json={"max_sessions": 5})
    assert capacity["max_sessions"] == 5
    await env.rule(
        tenant, name="BNG full", kind="nas_concurrency", parameters={"threshold_percent": 75, "window_hours": 2}
    )
    assert await env.round() == (1, 2)
    [firing] = await env.req("GET", "/alerts", tenant, params={"state": "firing"})
    assert (firing["subject"], firing["value"]) == ("bng-7", 80.0)  # bng-8 has no capacity: not measured
    await env.req("PUT", "/alerts/nas-capacities/bng-7", tenant, "ops", json={"max_sessions": 10})
    env.clock.advance(timedelta(minutes=1))
    assert await env.round() == (1, 2)
    assert env.emails(tenant) == ["[FIRING] BNG full: bng-7", "[RESOLVED] BNG full: bng-7"]


async def test_a_rule_is_evaluated_on_the_relevant_events_once_not_only_on_its_schedule(env: AlertsHarness) -> None:
    tenant = new_tenant()
    day_ago = env.clock.now() - timedelta(days=1)  # the NAS becomes known, a day before the rule's window
    await env.publish(
        (
            session_event(
                "stop", f"{tenant}-old", "u", start=day_ago - timedelta(hours=1), when=day_ago, nas_id="bng-3"
            ),
            tenant,
        )
    )
    await env.req("PUT", "/alerts/nas-capacities/bng-3", tenant, "ops", json={"max_sessions": 3})
    await env.rule(
        tenant, name="BNG busy", kind="nas_concurrency", parameters={"threshold_percent": 90, "window_hours": 2},
        interval_seconds=3600,
    )  # fmt: skip
    assert await env.round() == (1, 0)  # on creation: nothing online
    gap = timedelta(seconds=env.settings.alert_event_gap_seconds)
    env.clock.advance(gap)
    assert await env.round() == (0, 0)  # no event, and its schedule is an hour away
    opened = env.clock.now() - timedelta(minutes=10)
    other = new_tenant()  # another tenant's sessions do not make this tenant's rule due
    await env.publish((session_event("start", f"{other}-x", "x", start=opened, when=opened, nas_id="bng-3"), other))
    assert await env.round() == (0, 0)
    await env.publish(
        *[
            (session_event("start", f"{tenant}-{i}", f"u{i}", start=opened, when=opened, nas_id="bng-3"), tenant)
            for i in range(3)
        ]
    )
    # two evaluators at once (two replicas): the sessions' trigger makes the rule due, and it is evaluated once
    assert sorted(await asyncio.gather(evaluation.evaluate_due(env.deps), evaluation.evaluate_due(env.deps))) == [0, 1]
    assert await delivery.deliver_due(env.deps) == 2
    [firing] = await env.req("GET", "/alerts", tenant, params={"state": "firing"})
    assert (firing["subject"], firing["value"]) == ("bng-3", 100.0)
    assert env.emails(tenant) == ["[FIRING] BNG busy: bng-3"]
    # more sessions within the gap: evaluated once the gap has passed, not before, and not again after
    await env.publish(
        (session_event("stop", f"{tenant}-0", "u0", start=opened, when=env.clock.now(), nas_id="bng-3"), tenant)
    )
    assert await env.round() == (0, 0)
    env.clock.advance(gap)
    assert await env.round() == (1, 0)  # still firing (the peak of the window): no new notification
    env.clock.advance(gap)
    assert await env.round() == (0, 0)


def _loc(response: Any) -> list[str]:
    return [".".join(str(p) for p in d["loc"]) for d in response.json()["detail"]]


async def test_bad_input_answers_422_naming_the_field(env: AlertsHarness) -> None:
    tenant = new_tenant()
    base = {"name": "x", "kind": "usage_drop", "parameters": {"threshold_percent": 20}}
    cases = [
        (base | {"kind": "revenue_vibes"}, "body.kind"),
        (base | {"parameters": {"threshold_percent": -5}}, "body.parameters.threshold_percent"),
        (base | {"kind": "nas_concurrency", "parameters": {}}, "body.parameters.threshold_percent"),
        (base | {"parameters": {"threshold_percent": 5, "scope": "planet"}}, "body.parameters.scope"),
        (base | {"parameters": {"threshold_percent": 5, "colour": "red"}}, "body.parameters.colour"),
        (base | {"kind": "sla_breaches", "parameters": {"count": 0}}, "body.parameters.count"),
        (base | {"for_seconds": -1}, "body.for_seconds"),
        (base | {"webhook_url": "http://example.test/h"}, "body.webhook_secret"),
        (base | {"email_to": ["not an address"]}, "body.email_to.0"),
    ]
    for body, field in cases:
        response = await env.call("POST", "/alerts/rules", tenant, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in _loc(response), (field, response.text)
    unknown_nas = await env.call("PUT", "/alerts/nas-capacities/no-such-nas", tenant, json={"max_sessions": 5})
    assert unknown_nas.status_code == 422 and "body.nas_id" in _loc(unknown_nas)
    negative = await env.call("PUT", "/alerts/nas-capacities/any", tenant, json={"max_sessions": -1})
    assert negative.status_code == 422 and "body.max_sessions" in _loc(negative)
    bad_state = await env.call("GET", "/alerts", tenant, params={"state": "on-fire"})
    assert bad_state.status_code == 422 and "query.state" in _loc(bad_state)
    past = await env.call("POST", "/alerts/silences", tenant, json={"rule_id": "r", "ends_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422 and "body.ends_at" in _loc(past)


async def test_tenants_see_and_touch_only_their_own_rules_and_alerts(env: AlertsHarness) -> None:
    mine, theirs = new_tenant(), new_tenant()
    end = _window_end(env)
    await _usage(env, mine, "last-week", end - timedelta(days=7, hours=3), 8_000)
    rule = await env.rule(mine)
    await env.round()
    [alert] = await env.req("GET", "/alerts", mine)
    assert await env.req("GET", "/alerts", theirs) == []
    assert await env.req("GET", "/alerts/rules", theirs) == []
    await env.req("GET", f"/alerts/rules/{rule['rule_id']}", theirs, status=404)
    await env.req("GET", f"/alerts/{alert['alert_id']}", theirs, status=404)
    await env.req("POST", f"/alerts/{alert['alert_id']}/acknowledge", theirs, status=404)
    await env.req("DELETE", f"/alerts/rules/{rule['rule_id']}", theirs, status=404)
    await env.req(
        "POST",
        "/alerts/silences",
        theirs,
        status=422,
        json={"rule_id": rule["rule_id"], "ends_at": (env.clock.now() + timedelta(hours=1)).isoformat()},
    )
    assert (await env.req("GET", f"/alerts/rules/{rule['rule_id']}", mine))["name"] == "Usage dropped"
    # A NAS known only in another tenant's sessions is unknown here.
    nas = await env.call("PUT", "/alerts/nas-capacities/nas-1", theirs, json={"max_sessions": 5})
    assert nas.status_code == 422 and "body.nas_id" in _loc(nas)
    await env.req("PUT", "/alerts/nas-capacities/nas-1", mine, json={"max_sessions": 5})
    assert await env.req("GET", "/alerts/nas-capacities", theirs) == []


async def test_roles_and_default_rules(env: AlertsHarness) -> None:
    tenant = new_tenant()
    mrr = {"name": "MRR", "kind": "mrr_drop", "parameters": {"threshold_percent": 10}}
    await env.req("POST", "/alerts/rules", tenant, "ops", json=mrr, status=403)
    await env.req("POST", "/alerts/rules", tenant, "finance", json=mrr, status=201)
    await env.req("GET", "/alerts", tenant, "support", status=403)
    await env.req("POST", "/alerts/rules/defaults", tenant, "ops", json={}, status=403)
    created = await env.req(
        "POST", "/alerts/rules/defaults", tenant, json={"email_to": ["noc@isp.example"]}, status=201
    )
    assert sorted((r["kind"], r["parameters"]["threshold_percent"]) for r in created) == [
        ("logo_churn", 5),
        ("usage_drop", 20),
    ]  # mrr_drop exists already
    assert await env.req("POST", "/alerts/rules/defaults", tenant, json={}, status=201) == []


# ---------------------------------------------------------------- the other kinds, on real events and a real broker


async def test_mrr_drop_and_logo_churn_from_subscription_events(env: AlertsHarness) -> None:
    tenant = new_tenant()
    now = env.clock.now()
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    long_ago = now - timedelta(days=70)
    await env.publish(
        *[
            (subscription_started(c, f"{c}-s", mrr, long_ago), tenant)
            for c, mrr in (("A", 5000), ("B", 3000), ("C", 2000), ("D", 1000))
        ]
    )
    await env.publish((subscription_ended("B", "B-s", 3000, max(first, now - timedelta(hours=1))), tenant))
    await env.rule(tenant, name="MRR", kind="mrr_drop", parameters={"threshold_percent": 10})
    await env.rule(tenant, name="Churn", kind="logo_churn", parameters={"threshold_percent": 5})
    assert await env.round() == (2, 4)
    firing = {a["kind"]: a for a in await env.req("GET", "/alerts", tenant, params={"state": "firing"})}
    assert firing["mrr_drop"]["subject"] == "EUR"
    assert firing["mrr_drop"]["value"] == pytest.approx(3000 * 100 / 11000)
    assert (firing["logo_churn"]["subject"], firing["logo_churn"]["value"]) == ("EUR", 25.0)
    assert sorted(env.emails(tenant)) == ["[FIRING] Churn: EUR", "[FIRING] MRR: EUR"]


async def test_sla_breaches_at_or_above_n_in_the_period(env: AlertsHarness) -> None:
    tenant = new_tenant()
    now = env.clock.now()
    await env.publish(
        (breach("b1", "i1", "c1", credit=100, detected_at=now - timedelta(hours=30)), tenant),  # outside 24 h
        (breach("b2", "i2", "c1", credit=100, detected_at=now - timedelta(hours=2)), tenant),
    )
    await env.rule(tenant, name="SLA", kind="sla_breaches", parameters={"count": 2})
    assert await env.round() == (1, 0)
    assert await env.req("GET", "/alerts", tenant) == []
    await env.publish((breach("b3", "i3", "c2", credit=100, detected_at=now - timedelta(hours=1)), tenant))
    env.clock.advance(timedelta(minutes=1))
    assert await env.round() == (1, 2)
    [firing] = await env.req("GET", "/alerts", tenant, params={"state": "firing"})
    assert (firing["subject"], firing["value"]) == ("tenant", 2.0)


async def test_a_dead_letter_topic_with_records_fires(env: AlertsHarness) -> None:
    tenant = new_tenant()
    bootstrap, prefix = env.settings.kafka_bootstrap_servers, env.settings.kafka_topic_prefix
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:  # an envelope the consumer cannot read: dead-lettered at once, by the real consumer
        await producer.send_and_wait(
            f"{prefix}{topics.SLA.name}",
            b"not json",
            key=b"x",
            headers=[("ce_type", b"bss.billing.sla.breach-detected")],
        )
    finally:
        await producer.stop()
    await env.rule(tenant, name="DLQ", kind="dead_letters", parameters={})

    async def fired() -> bool:
        env.clock.advance(timedelta(minutes=1))
        await env.round()
        return bool(await env.req("GET", "/alerts", tenant, params={"state": "firing"}))

    await eventually(fired, timeout=60)
    [firing] = await env.req("GET", "/alerts", tenant, params={"state": "firing"})
    assert (firing["subject"], firing["value"]) == (f"{topics.SLA.name}.dlq", 1.0)


async def test_consumer_lag_above_n_for_t_minutes(env: AlertsHarness) -> None:
    tenant = new_tenant()
    bootstrap, prefix = env.settings.kafka_bootstrap_servers, env.settings.kafka_topic_prefix
    group = f"{prefix}lag-watch"  # a group of this test's own: the services' groups on the shared broker stay untouched
    deps = replace(env.deps, kafka=KafkaProbe(bootstrap, prefix, groups=[group]))
    topic = f"{prefix}{topics.SESSIONS.name}"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(topics.SESSIONS.partitions)]
        consumer.assign(tps)  # assigned, not subscribed: the group commits without joining (no rebalance)
        await consumer.commit(dict(await consumer.end_offsets(tps)))
        await env.rule(tenant, name="Lag", kind="consumer_lag", parameters={"max_lag": 1}, for_seconds=300)
        assert await evaluation.evaluate_due(deps) == 1
        assert await env.req("GET", "/alerts", tenant) == []  # lag 0
        end = _window_end(env)
        await _usage(env, tenant, "a", end - timedelta(hours=1), 1)
        await _usage(env, tenant, "b", end - timedelta(hours=1), 1)
        env.clock.advance(timedelta(minutes=1))
        assert await evaluation.evaluate_due(deps) == 1
        [pending] = await env.req("GET", "/alerts", tenant, params={"state": "pending"})
        assert (pending["subject"], pending["value"]) == (group, 2.0)
        env.clock.advance(timedelta(minutes=5))
        assert await evaluation.evaluate_due(deps) == 1
        assert [a["state"] for a in await env.req("GET", "/alerts", tenant)] == ["firing"]
        await consumer.commit(dict(await consumer.end_offsets(tps)))
        env.clock.advance(timedelta(minutes=1))
        assert await evaluation.evaluate_due(deps) == 1
        assert [a["state"] for a in await env.req("GET", "/alerts", tenant)] == ["resolved"]
        assert await delivery.deliver_due(env.deps) == 4
        assert env.emails(tenant) == [f"[FIRING] Lag: {group}", f"[RESOLVED] Lag: {group}"]
    finally:
        await consumer.stop()


async def test_a_failing_webhook_is_retried_with_backoff_and_its_tries_recorded(env: AlertsHarness) -> None:
    tenant = new_tenant()
    end = _window_end(env)
    await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=3), 8_000)
    await env.rule(tenant)
    env.hook.fail_with.extend([500, 503])
    assert await env.round() == (1, 2)  # email delivered, the webhook's first try refused
    [alert] = await env.req("GET", "/alerts", tenant)
    hook = next(
        n
        for n in (await env.req("GET", f"/alerts/{alert['alert_id']}", tenant))["notifications"]
        if n["channel"] == "webhook"
    )
    assert (hook["status"], hook["attempts"], hook["last_error"]) == ("pending", 1, f"webhook {env.hook.url}: HTTP 500")
    assert await delivery.deliver_due(env.deps) == 0  # not before its backoff (60 s)
    env.clock.advance(timedelta(seconds=61))
    assert await delivery.deliver_due(env.deps) == 1  # 503
    env.clock.advance(timedelta(seconds=121))
    assert await delivery.deliver_due(env.deps) == 1
    hook = next(
        n
        for n in (await env.req("GET", f"/alerts/{alert['alert_id']}", tenant))["notifications"]
        if n["channel"] == "webhook"
    )
    assert (hook["status"], hook["attempts"], hook["last_error"]) == ("delivered", 3, None)
    assert [h["event"] for h in env.hooks(tenant)] == ["alert.firing"] * 3  # two refused, one accepted
    assert len({h["notification_id"] for h in env.hooks(tenant)}) == 1


async def test_receivables_over_90_days_growing(env: AlertsHarness) -> None:
    tenant = new_tenant()
    today = env.clock.now().date()
    await env.publish(
        (invoice(f"{tenant}-old", "c1", 1000, due=today - timedelta(days=200)), tenant),  # over 90 days then and now
        (invoice(f"{tenant}-new", "c2", 500, due=today - timedelta(days=100)), tenant),  # 70 days past due a month ago
        (invoice(f"{tenant}-due", "c3", 9000, due=today - timedelta(days=10)), tenant),  # not over 90
    )
    await env.rule(tenant, name="AR 90", kind="ar_90_growth", parameters={"threshold_percent": 10, "lookback_days": 30})
    assert await env.round() == (1, 2)
    [firing] = await env.req("GET", "/alerts", tenant, params={"state": "firing"})
    assert (firing["subject"], firing["value"]) == ("EUR", 50.0)


async def test_deleting_a_rule_resolves_its_firing_alert(env: AlertsHarness) -> None:
    tenant = new_tenant()
    end = _window_end(env)
    await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=3), 8_000)
    rule = await env.rule(tenant)
    assert await env.round() == (1, 2)
    await env.req("DELETE", f"/alerts/rules/{rule['rule_id']}", tenant, "ops", status=204)
    assert await env.round() == (0, 2)
    [alert] = await env.req("GET", "/alerts", tenant)
    assert (alert["state"], alert["rule_name"]) == ("resolved", None)
    assert env.emails(tenant) == ["[FIRING] Usage dropped: tenant", "[RESOLVED] Usage dropped: tenant"]
    assert [h["event"] for h in env.hooks(tenant)] == ["alert.firing", "alert.resolved"]  # signed, rule gone


async def test_a_rule_another_evaluator_holds_is_skipped_then_no_longer_due(env: AlertsHarness) -> None:
    tenant = new_tenant()
    end = _window_end(env)
    await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=3), 8_000)
    await env.rule(tenant)
    replica = Database(env.settings.database_url, pool_size=2)
    other = replace(env.deps, database=replica)
    try:
        async with env.deps.database.transaction() as holding:  # replica A, mid-evaluation of the rule
            claimed = await repo.claim_due_rule(holding, env.clock.now(), timedelta(0))
            assert claimed is not None and claimed.tenant_id == tenant
            assert await evaluation.evaluate_next(other) is False  # replica B skips it, does not wait
            await evaluation.evaluate_rule(env.deps, holding, claimed, env.clock.now())
            await repo.update_rule(  # as evaluate_next records it: the schedule and the trigger counter seen
                holding,
                tenant,
                claimed.rule_id,
                next_evaluation_at=env.clock.now() + timedelta(minutes=1),
                last_evaluated_at=env.clock.now(),
                trigger_seq=claimed.seq,
            )
        assert await evaluation.evaluate_next(other) is False  # committed: no longer due
    finally:
        await replica.close()
    assert await delivery.deliver_due(env.deps) == 2
    assert env.emails(tenant) == ["[FIRING] Usage dropped: tenant"]


async def test_twenty_long_addresses_are_owed_one_email(env: AlertsHarness) -> None:
    tenant = new_tenant()
    end = _window_end(env)
    await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=3), 8_000)
    addresses = [f"ops{i}@{'a' * 60}.{'b' * 60}.example" for i in range(20)]
    await env.rule(tenant, email_to=addresses, webhook_url=None, webhook_secret=None)
    assert await evaluation.evaluate_due(env.deps) == 1
    [(channel, target)] = await env.rows(
        "SELECT channel, target FROM alerts.alert_notifications WHERE tenant_id = :t", t=tenant
    )
    assert (channel, target.split(",")) == ("email", addresses)
    assert await delivery.deliver_due(env.deps) == 1
    [(status, error)] = await env.rows(
        "SELECT status, last_error FROM alerts.alert_notifications WHERE tenant_id = :t", t=tenant
    )
    assert (status, error) == ("delivered", None), error
    [message] = [
        m
        for m, rcpts in zip(env.smtp.messages, env.smtp.inbox.recipients, strict=True)
        if sorted(rcpts) == sorted(addresses)
    ]
    assert message["Subject"] == "[FIRING] Usage dropped: tenant"


async def test_a_sender_that_died_mid_call_leaves_the_lease_to_run_out_then_it_is_sent(env: AlertsHarness) -> None:
    tenant = new_tenant()
    end = _window_end(env)
    await _usage(env, tenant, "last-week", end - timedelta(days=7, hours=3), 8_000)
    await env.rule(tenant, webhook_url=None, webhook_secret=None)
    assert await evaluation.evaluate_due(env.deps) == 1
    async with env.deps.database.transaction() as session:  # a sender claimed it, then its process died
        now = env.clock.now()
        lease = now + timedelta(seconds=env.settings.alert_delivery_lease_seconds)
        assert await repo.claim_notification(session, now, lease) is not None
    assert await delivery.deliver_due(env.deps) == 0  # leased: nobody else sends it meanwhile
    env.clock.advance(timedelta(seconds=env.settings.alert_delivery_lease_seconds + 1))
    assert await delivery.deliver_due(env.deps) == 1
    [(status, attempts)] = await env.rows(
        "SELECT status, attempts FROM alerts.alert_notifications WHERE tenant_id = :t", t=tenant
    )
    assert (status, attempts) == ("delivered", 2)
    assert env.emails(tenant) == ["[FIRING] Usage dropped: tenant"]
