"""Customer and subscriber events applied a batch at a time give exactly what applying them one by one gives.

The reference is the one-event path (`entrypoints/handlers.register_one_by_one`: `accounts.keep_customer`,
`accounts.keep_subscriber`, `subscriptions.follow_activation` / `follow_termination`, each event in its own
transaction); the batch path is `service_layer/account_batches.apply_account_events` behind `on_batch`. Both run
through `EventRoutes` on PostgreSQL, each on a database of its own with the same plans and the same ManualClock;
every table they touch must be equal row for row (billing_customers, billing_subscribers, subscriptions but for
their random id and creation time, processed_events but for its time) and the outbox must hold the same events
in the same order (topic, key, type, payload with the same causation and correlation) but for their ids and times.

Streams (hypothesis): two tenants, customers created and updated (time zones that move the activation day, equal
and older `updated_at`), subscribers created with a plan named by id, by code, retired, unknown or none, then
activated, suspended, reinstated, terminated, in any order (a status event before its subscriber's creation, an
older status after a newer one, a customer event after its subscriber's activation), the same event twice in a
row, random batch boundaries and redelivered batches (a batch that starts with events applied already).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text

from billing.adapters.tables import metadata, runtime_tables
from billing.entrypoints.handlers import register
from billing.service_layer.deps import Deps
from bss_contracts import DomainEvent, Envelope
from bss_contracts.events.billing import SubscriptionStarted
from bss_contracts.events.customers import (
    CustomerCreated,
    CustomerState,
    CustomerUpdated,
    SubscriberActivated,
    SubscriberCreated,
    SubscriberReinstated,
    SubscriberSuspended,
    SubscriberTerminated,
)
from bss_runtime.clock import ManualClock
from bss_runtime.consumer import EventRoutes
from bss_runtime.db import Database
from bss_runtime.outbox import EventWriter

T0 = datetime(2026, 3, 31, 10, tzinfo=UTC)  # Auckland is on April 1st already, Los Angeles on March 31st
TENANTS = ("isp-a", "isp-b")
ZONES = ("UTC", "Pacific/Auckland", "America/Los_Angeles")
PLAN_REFS = ("by_id", "by_code", "by_id", "retired", "unknown", "none")
KINDS = (
    "customer", "customer_update", "created", "created", "activated", "activated", "suspended", "reinstated",
    "terminated",
)  # fmt: skip
TABLES = {
    "billing_customers": "*",
    "billing_subscribers": "*",
    "subscriptions": "tenant_id, subscriber_id, customer_id, plan_id, currency, start_date, end_date, status,"
    " next_cycle, next_close_at, started_event_at, canceled_event_at, ended_event_at",
    "plan_changes": "*",
    "processed_events": "consumer, event_id, event_type",
}

step = st.tuples(  # an event out of any life: before its subscriber's creation, after its termination, ...
    st.sampled_from(KINDS),
    st.sampled_from(TENANTS),
    st.integers(0, 1),  # subscriber (and customer) number
    st.integers(0, 5),  # a variant: plan reference, time zone, username
    st.integers(0, 3),  # 0: two hours older than its place in the stream says (out of order, or a tie)
)


def plan_id(tenant: str, code: str) -> str:
    return f"{tenant}-{code}"


def build_event(kind: str, tenant: str, n: int, variant: int, hour: int) -> DomainEvent:
    when = T0 + timedelta(hours=hour)
    subscriber_id, customer_id, username = f"sub-{n}", f"cust-{n}", f"user-{n}-{variant % 2}"
    match kind:
        case "customer" | "customer_update":
            state = CustomerState(
                customer_id=customer_id, name=f"Customer {variant}", timezone=ZONES[variant % 3],
                billing_country="NZ" if variant % 2 else None, created_at=T0, updated_at=when,
            )  # fmt: skip
            if kind == "customer":
                return CustomerCreated(customer_id=customer_id, customer=state)
            return CustomerUpdated(customer_id=customer_id, customer=state, changed_fields=("timezone",))
        case "created":
            ref = PLAN_REFS[variant % len(PLAN_REFS)]
            plan = {"by_id": plan_id(tenant, "basic"), "by_code": "basic", "retired": "old", "unknown": "gold"}
            return SubscriberCreated(
                subscriber_id=subscriber_id, customer_id=customer_id, username=username, plan_id=plan.get(ref),
                status="pending", created_at=when,
            )  # fmt: skip
    model, previous, status = {
        "activated": (SubscriberActivated, "pending", "active"),
        "suspended": (SubscriberSuspended, "active", "suspended"),
        "reinstated": (SubscriberReinstated, "suspended", "active"),
        "terminated": (SubscriberTerminated, "active", "terminated"),
    }[kind]
    return model(
        subscriber_id=subscriber_id, customer_id=customer_id, username=username, previous_status=previous,
        status=status, changed_at=when,
    )  # fmt: skip


class Paths:
    """The two paths, each on a database of its own: `one` one event per transaction, `batched` batches."""

    def __init__(self, one: tuple[Database, EventRoutes], batched: tuple[Database, EventRoutes]) -> None:
        self.one, self.batched = one, batched

    async def reset(self) -> None:
        for database, _ in (self.one, self.batched):
            async with database.engine.begin() as conn:
                await conn.execute(
                    text(
                        "TRUNCATE billing_customers, billing_subscribers, subscriptions, plan_changes,"
                        " processed_events, outbox CASCADE"
                    )
                )


async def _path(url: str, clock: ManualClock, *, batches: bool) -> tuple[Database, EventRoutes]:
    database = Database(url, pool_size=2)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for tenant in TENANTS:
            for code, active in (("basic", True), ("old", False)):
                await conn.execute(
                    text(
                        "INSERT INTO plans (id, tenant_id, code, name, currency, price_minor,"
                        " overage_price_per_gb_minor, overage_increment_octets, tax_rate_bp, active)"
                        " VALUES (:id, :tenant, :code, :code, 'EUR', 3000, 0, 1000000000, 0, :active)"
                    ),
                    {"id": plan_id(tenant, code), "tenant": tenant, "code": code, "active": active},
                )
    deps = Deps(database=database, events=EventWriter(runtime_tables, source="/services/billing"), clock=clock)
    routes = EventRoutes(runtime_tables.processed_events, consumer="billing")
    register(routes, deps, account_batches=batches)
    return database, routes


@pytest.fixture(scope="module")
async def paths(fresh_database: Any) -> AsyncIterator[Paths]:
    """Two databases for the module (each test empties them first)."""
    clock = ManualClock(T0 + timedelta(days=1))
    one = await _path(await fresh_database("billing_accounts_one"), clock, batches=False)
    batched = await _path(await fresh_database("billing_accounts_batched"), clock, batches=True)
    yield Paths(one, batched)
    for database, _ in (one, batched):
        await database.close()


async def apply_both(paths: Paths, envelopes: list[Envelope[Any]], cuts: list[int], redeliveries: list[int]) -> None:
    await paths.reset()
    database, routes = paths.one
    for envelope in envelopes:
        async with database.transaction() as session:
            await routes.apply(session, [envelope])
    database, routes = paths.batched
    bounds = sorted({0, len(envelopes), *(c for c in cuts if c < len(envelopes))})
    for n, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        back = redeliveries[n % len(redeliveries)] if redeliveries else 0
        chunk = envelopes[max(0, lo - back) : hi]  # a redelivered batch starts with events applied already
        async with database.transaction() as session:
            outcomes = await routes.apply(session, chunk)
        assert outcomes.count("processed") == len({e.id for e in envelopes[lo:hi]} - {e.id for e in envelopes[:lo]})


async def state(database: Database) -> dict[str, list[Any]]:
    """Every table the paths touch, in a stable order, without what is random or the time of writing."""
    out: dict[str, list[Any]] = {}
    async with database.engine.connect() as conn:
        for table, columns in TABLES.items():
            rows = await conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY 1, 2, 3"))
            out[table] = [tuple(r) for r in rows]
        ids = {
            i: f"{t}/{s}"
            for i, t, s in await conn.execute(text("SELECT id, tenant_id, subscriber_id FROM subscriptions"))
        }
        outbox = []
        for tenant, topic, key, kind, payload in await conn.execute(
            text("SELECT tenant_id, topic, key, event_type, payload FROM outbox ORDER BY id")
        ):
            body = payload.decode()
            for subscription_id, name in ids.items():  # a subscription's id differs: name it by its subscriber
                body, key = body.replace(subscription_id, name), key.replace(subscription_id, name)
            envelope = json.loads(body)
            del envelope["id"], envelope["time"]
            outbox.append((tenant, topic, key, kind, envelope))
        out["outbox"] = outbox
    return out


line = st.tuples(
    st.sampled_from(TENANTS),
    st.integers(0, 1),  # subscriber (and customer) number
    st.integers(0, 5),  # variant: the plan reference, the time zone
    st.lists(st.sampled_from(("suspended", "reinstated", "terminated", "customer_update", "activated")), max_size=4),
)


def interleave(
    lines: list[tuple[str, int, int, list[str]]], steps: list[tuple[str, str, int, int, int]], picks: list[int]
) -> list[tuple[str, str, int, int, int]]:
    """Each line's life in order (customer, created, activated, then its later events), the random steps, all
    interleaved as `picks` says; an event whose `late` is 0 is two hours older than its place says."""
    queues = [
        [(k, tenant, n, variant, (variant + i) % 4) for i, k in enumerate(["customer", "created", "activated", *later])]
        for tenant, n, variant, later in lines
    ] + [list(steps)]
    out: list[tuple[str, str, int, int, int]] = []
    for pick in [*picks, *range(sum(len(q) for q in queues))]:
        live = [q for q in queues if q]
        if not live:
            break
        out.append(live[pick % len(live)].pop(0))
    return out


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    lines=st.lists(line, min_size=1, max_size=4),
    steps=st.lists(step, max_size=10),
    picks=st.lists(st.integers(0, 4), max_size=30),
    twice=st.lists(st.integers(0, 29), max_size=3),
    cuts=st.lists(st.integers(1, 34), max_size=5),
    redeliveries=st.lists(st.integers(0, 6), max_size=3),
)
async def test_batches_equal_one_event_per_transaction(
    paths: Paths, lines: list[tuple[str, int, int, list[str]]], steps: list[tuple[str, str, int, int, int]],
    picks: list[int], twice: list[int], cuts: list[int], redeliveries: list[int],
) -> None:  # fmt: skip
    envelopes = [
        Envelope.wrap(
            build_event(kind, tenant, n, variant, i - (2 if late == 0 else 0)), source="/tests", tenant_id=tenant
        )
        for i, (kind, tenant, n, variant, late) in enumerate(interleave(lines, steps, picks))
    ]
    for i in sorted(twice, reverse=True):  # the same event (same id) sent again right after itself
        if i < len(envelopes):
            envelopes.insert(i + 1, envelopes[i])
    await apply_both(paths, envelopes, cuts, redeliveries)
    assert await state(paths.batched[0]) == await state(paths.one[0])


def lifecycle(tenant: str, n: int) -> list[DomainEvent]:
    """A new customer and subscriber on the basic plan, activated: what a bulk import publishes."""
    return [
        build_event("customer", tenant, n, 1, 0),  # Auckland: the subscription starts on April 1st
        build_event("created", tenant, n, 0, 1),
        build_event("activated", tenant, n, 0, 2),
    ]


async def statements_of(paths: Paths, tenant: str, events: list[DomainEvent]) -> int:
    """How many statements the batch path sends to apply `events` in one batch."""
    database, routes = paths.batched
    count = 0

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1

    envelopes = [Envelope.wrap(e, source="/tests", tenant_id=tenant) for e in events]
    event.listen(database.engine.sync_engine, "before_cursor_execute", counted)
    try:
        async with database.transaction() as session:
            await routes.apply(session, envelopes)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", counted)
    return count


async def test_a_batch_costs_the_same_statements_whatever_its_size(paths: Paths) -> None:
    """One batch of 2 new lines and one of 40 (of the other tenant) each write their customers, subscribers,
    subscriptions and Started events with the same 9 statements (processed events, 4 reads, 4 writes)."""
    await paths.reset()
    small = [e for n in range(2) for e in lifecycle("isp-a", n)]
    large = [e for n in range(2, 42) for e in lifecycle("isp-b", n)]
    assert await statements_of(paths, "isp-a", small) == await statements_of(paths, "isp-b", large) == 9
    rows = await state(paths.batched[0])
    assert len(rows["subscriptions"]) == 42
    assert {row[5] for row in rows["subscriptions"]} == {date(2026, 4, 1)}  # the day in the customer's zone
    assert [kind for *_, kind, _ in rows["outbox"]] == [SubscriptionStarted.event_type] * 42
