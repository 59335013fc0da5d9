"""Events arrive in order per key only; across topics any order is possible. Applying the same events in
different cross-topic orders (each topic's own order kept) must give the same read model, row for row."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bss_contracts import DomainEvent, Envelope
from bss_runtime.db import Database
from reporting.adapters.tables import ReadModel
from reporting.service_layer.rebuild import compare

from .reporting_support import (
    at,
    breach,
    breach_resolved,
    credit_note,
    customer,
    customer_updated,
    dunning_completed,
    dunning_started,
    empty_read_model,
    invoice,
    nas_reset,
    paid,
    payment,
    plan_changed,
    session_event,
    sla_credit,
    status,
    subscriber,
    subscription_canceled,
    subscription_ended,
    subscription_started,
)

T = "isp-converge"


def history() -> list[DomainEvent]:
    """A little of everything, in an order each key's producer could have written it."""
    start = at(days=-1)
    return [
        invoice("i1", "c1", 5_000, due=date(2025, 3, 1)),  # before its customer
        customer("c1", "Acme", partner_id="p1", billing_country="DE"),
        customer_updated("c1", "Acme AG", datetime(2025, 6, 1, tzinfo=UTC), partner_id="p2", billing_country="AT"),
        customer_updated("c1", "Acme (stale)", datetime(2025, 5, 1, tzinfo=UTC), partner_id="p3"),
        subscriber("s1", "c1", "u1"),
        status("activate", "s1", "c1", "u1", at(days=-30)),
        status("suspend", "s1", "c1", "u1", at(days=-20)),
        payment("i1", "c1", 1_000, datetime(2025, 3, 5, tzinfo=UTC)),
        credit_note("i1", "c1", 500, datetime(2025, 3, 6, tzinfo=UTC)),
        invoice("i2", "c1", 2_000, due=date(2025, 4, 1), partner_id="p9"),
        paid("i2", "c1", 2_000, datetime(2025, 4, 2, tzinfo=UTC)),
        breach_resolved("b1", "inst-1", "c1", at(days=-2)),
        breach("b1", "inst-1", "c1", credit=300, detected_at=at(days=-3)),
        sla_credit("b1", "inst-1", "c1", 300, at(days=-2)),
        dunning_started("x1", "i1", "c1", at(days=-10)),
        dunning_completed("x1", "i1", "c1", at(days=-5)),
        session_event("start", "K1", "u1", start=start, when=start),
        session_event("update", "K1", "u1", start=start, when=start + timedelta(hours=1), seconds=3600,
                      octets_in=10, octets_out=20),
        session_event("start", "K2", "u1", start=start + timedelta(hours=5), when=start + timedelta(hours=5)),
        session_event("stop", "K2", "u1", start=start + timedelta(hours=5), when=start + timedelta(hours=6),
                      seconds=3600, octets_in=1, octets_out=2, cause="User-Request"),
        session_event("start", "K3", "u2", start=start, when=start, nas_id="nas-2"),
        nas_reset("nas-1", start + timedelta(hours=2)),
        nas_reset("nas-1", start + timedelta(hours=3), reason="accounting-off"),
        # c1's subscriptions in the order billing wrote them, the plan change (a downgrade at the cycle's end)
        # written before the second subscription began; then a cancellation, the end and a win-back.
        subscription_started("c1", "s1", 3_000, datetime(2025, 1, 5, tzinfo=UTC)),
        plan_changed("c1", "s1", 3_000, 2_000, datetime(2025, 3, 5, tzinfo=UTC)),
        subscription_started("c1", "s2", 1_500, datetime(2025, 2, 10, tzinfo=UTC)),
        subscription_canceled("c1", "s1", 2_000, datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 5, tzinfo=UTC)),
        subscription_ended("c1", "s1", 2_000, datetime(2025, 5, 5, tzinfo=UTC)),
        subscription_ended("c1", "s2", 1_500, datetime(2025, 5, 5, tzinfo=UTC)),
        subscription_started("c1", "s3", 2_500, datetime(2025, 8, 1, tzinfo=UTC)),
        subscription_started("c2", "s4", 900, datetime(2025, 2, 1, tzinfo=UTC), currency="USD"),
    ]  # fmt: skip


def orders(events: list[DomainEvent]) -> dict[str, list[DomainEvent]]:
    """Topic after topic, the topics reversed, and random interleavings; each topic's order kept."""
    by_topic: dict[str, list[DomainEvent]] = {}
    for e in events:
        by_topic.setdefault(e.topic.name, []).append(e)
    out = {
        "forward": [e for t in by_topic.values() for e in t],
        "reversed": [e for t in reversed(by_topic.values()) for e in t],
    }
    for seed in range(3):
        rng, queues, mixed = random.Random(seed), [list(t) for t in by_topic.values()], []
        while any(queues):
            mixed.append(rng.choice([q for q in queues if q]).pop(0))
        out[f"random-{seed}"] = mixed
    return out


@pytest.fixture
async def database(fresh_database: Any) -> AsyncIterator[Database]:
    db = Database(await fresh_database("reporting_converge"), pool_size=2)
    yield db
    await db.close()


async def apply_all(db: Database, schema: str, events: list[Envelope[Any]], batch: int = 1) -> ReadModel:
    """Apply through the live consumer's apply step (EventRoutes), `batch` events per transaction."""
    rm, routes = await empty_read_model(db, schema)
    for i in range(0, len(events), batch):
        async with db.transaction() as session:
            await routes.apply(session, events[i : i + batch])
    return rm


async def test_every_cross_topic_order_gives_the_same_read_model(database: Database) -> None:
    events = history()
    wrapped = {id(e): Envelope.wrap(e, source="/tests", tenant_id=T) for e in events}  # same ids in every order
    models = {}
    for name, ordered in orders(events).items():
        for batch in (1, 4, len(ordered)):  # one event per transaction, small batches, all at once
            schema = f"conv_{name.replace('-', '_')}_{batch}"
            models[f"{name}/{batch}"] = await apply_all(database, schema, [wrapped[id(e)] for e in ordered], batch)

    async with database.engine.connect() as conn:
        reference = models.pop("forward/1")
        for name, rm in models.items():
            assert await compare(conn, reference, rm) == {}, name

        async def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in await conn.execute(text(sql.format(s=reference.schema)))]

        assert await rows(
            "SELECT session_key, stop_source, terminate_cause, input_octets FROM {s}.sessions ORDER BY 1"
        ) == [
            ("K1", "nas", "NAS-Reboot", 10),  # closed by the first reset after it started
            ("K2", "stop", "User-Request", 1),  # started after both resets
            ("K3", None, None, 0),  # on another NAS
        ]
        assert await rows("SELECT name, partner_id FROM {s}.customers") == [("Acme AG", "p2")]  # the stale update lost
        assert await rows(
            "SELECT invoice_id, partner_id, billing_country, balance_minor FROM {s}.invoices ORDER BY 1"
        ) == [
            ("i1", "p2", "AT", 3_500),  # the customer's (latest) partner and country
            ("i2", "p9", "AT", 0),  # its own partner
        ]
        assert await rows("SELECT breach_id, detected_at IS NOT NULL, resolved_at IS NOT NULL, credit_issued_minor "
                          "FROM {s}.sla_breaches") == [("b1", True, True, 300)]  # fmt: skip
        assert await rows("SELECT status, outcome FROM {s}.dunning_executions") == [("completed", "recovered")]
        assert await rows(
            "SELECT customer_id, currency, effective_at::date, mrr_minor, active_subscriptions "
            "FROM {s}.customer_mrr_changes ORDER BY 1, 2, 3"
        ) == [
            ("c1", "EUR", date(2025, 1, 5), 3_000, 1),
            ("c1", "EUR", date(2025, 2, 10), 4_500, 2),
            ("c1", "EUR", date(2025, 3, 5), 3_500, 2),  # the cancellation moved nothing
            ("c1", "EUR", date(2025, 5, 5), 0, 0),  # both ended at the same instant: one row
            ("c1", "EUR", date(2025, 8, 1), 2_500, 1),
            ("c2", "USD", date(2025, 2, 1), 900, 1),
        ]
        assert await rows("SELECT status, suspended_at IS NOT NULL FROM {s}.subscribers") == [("suspended", True)]
