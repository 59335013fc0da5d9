"""Helpers for the reporting tests: the running service, tokens, and the events other services publish."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from bss_contracts import DomainEvent, Envelope
from bss_contracts.events import billing, customers, dunning, radius
from bss_runtime.auth import issue_token
from bss_runtime.consumer import EventRoutes
from bss_testkit.events import eventually, publish_events
from reporting.adapters.partitions import SessionPartitions
from reporting.adapters.tables import ReadModel, build_tables
from reporting.config import Settings
from reporting.entrypoints import handlers
from reporting.entrypoints.app import Reporting, create_app

SCHEMA = "readmodel"


def new_tenant() -> str:
    return f"isp-{uuid.uuid4().hex[:10]}"


@dataclass
class Harness:
    service: Reporting
    client: httpx.AsyncClient
    settings: Settings
    app: Any = field(default=None, kw_only=True)  # the FastAPI app the client calls (keyword: subclasses add fields)

    def headers(self, tenant: str, *roles: str) -> dict[str, str]:
        token = issue_token(self.service.runtime.jwt, subject="tester", tenant_id=tenant, roles=roles or ("admin",))
        return {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, tenant: str, *roles: str, **params: Any) -> httpx.Response:
        query = {k: v for k, v in params.items() if v is not None}
        return await self.client.get(f"/billing/reports/{path}", params=query, headers=self.headers(tenant, *roles))

    async def ok(self, path: str, tenant: str, *roles: str, **params: Any) -> Any:
        response = await self.get(path, tenant, *roles, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def publish(self, *events: tuple[DomainEvent, str]) -> list[Envelope[Any]]:
        """Publish (event, tenant) pairs as the producing services would, and wait until all are applied."""
        sent = await publish_events(self.settings.kafka_bootstrap_servers, self.settings.kafka_topic_prefix, *events)
        await self.wait_applied(e.id for e in sent)
        return sent

    async def wait_applied(self, ids: Iterable[uuid.UUID], timeout: float = 60.0) -> None:
        wanted = list(set(ids))

        async def applied() -> bool:
            done = await self.scalar(
                f"SELECT count(*) FROM {SCHEMA}.processed_events WHERE event_id = ANY(:ids)", ids=wanted
            )
            return bool(done == len(wanted))

        await eventually(applied, timeout=timeout)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.service.runtime.database.engine.connect() as conn:
            return await conn.scalar(text(sql), params)

    async def execute(self, sql: str, **params: Any) -> int:
        """Run a statement and commit it; returns the rows it touched."""
        async with self.service.runtime.database.engine.begin() as conn:
            return (await conn.execute(text(sql), params)).rowcount

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.service.runtime.database.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())


async def empty_read_model(db: Any, schema: str, *, balance_batches: bool = True) -> tuple[ReadModel, EventRoutes]:
    """A fresh schema with the read-model tables, and the live consumer's apply step (EventRoutes with every
    handler) writing to it: for applying events outside the service, e.g. one per transaction as a reference.
    `balance_batches=False`: invoice balance events through the one-event reference functions."""
    rm = build_tables(schema)
    partitions = SessionPartitions(rm.schema, retention_months=13, ahead_months=1)
    routes = EventRoutes(rm.runtime.processed_events, consumer="reporting")
    handlers.register(routes, rm, partitions, balance_batches=balance_batches)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(rm.metadata.create_all)
        await partitions.maintain(conn, datetime.now(UTC))
    return rm, routes


@asynccontextmanager
async def running_reporting(database_url: str, bootstrap: str, prefix: str, **overrides: Any) -> AsyncIterator[Harness]:
    settings = Settings(
        database_url=database_url, kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix, **overrides
    )
    app = create_app(settings)
    service: Reporting = app.state.service
    transport = httpx.ASGITransport(app=app)
    async with service.runtime.running(), httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield Harness(service, client, settings, app=app)


# ---------------------------------------------------------------- events, as the producers write them

NOW = datetime.now(UTC)


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """A moment relative to the start of the test run (negative: in the past)."""
    return NOW + timedelta(days=days, hours=hours, minutes=minutes)


def customer(customer_id: str, name: str, **fields: Any) -> customers.CustomerCreated:
    stamp = fields.pop("updated_at", datetime(2025, 1, 1, tzinfo=UTC))
    state = customers.CustomerState(
        customer_id=customer_id, name=name, created_at=datetime(2025, 1, 1, tzinfo=UTC), updated_at=stamp, **fields
    )
    return customers.CustomerCreated(customer_id=customer_id, customer=state)


def customer_updated(customer_id: str, name: str, updated_at: datetime, **fields: Any) -> customers.CustomerUpdated:
    state = customers.CustomerState(
        customer_id=customer_id, name=name, created_at=datetime(2025, 1, 1, tzinfo=UTC), updated_at=updated_at, **fields
    )
    return customers.CustomerUpdated(customer_id=customer_id, customer=state, changed_fields=("name",))


def partner(
    partner_id: str, name: str, *, updated_at: datetime | None = None, created: bool = True
) -> customers.PartnerCreated | customers.PartnerUpdated:
    stamp = updated_at or datetime(2025, 1, 1, tzinfo=UTC)
    state = customers.PartnerState(
        partner_id=partner_id, name=name, created_at=datetime(2025, 1, 1, tzinfo=UTC), updated_at=stamp
    )
    if created:
        return customers.PartnerCreated(partner_id=partner_id, partner=state)
    return customers.PartnerUpdated(partner_id=partner_id, partner=state, changed_fields=("name",))


def subscriber(
    subscriber_id: str, customer_id: str, username: str, created_at: datetime | None = None, plan_id: str = "plan-100"
) -> customers.SubscriberCreated:
    return customers.SubscriberCreated(
        subscriber_id=subscriber_id,
        customer_id=customer_id,
        username=username,
        plan_id=plan_id,
        created_at=created_at or datetime(2025, 1, 2, tzinfo=UTC),
    )


_STATUS_EVENTS: dict[str, tuple[type[Any], str, str]] = {
    "activate": (customers.SubscriberActivated, "pending", "active"),
    "suspend": (customers.SubscriberSuspended, "active", "suspended"),
    "reinstate": (customers.SubscriberReinstated, "suspended", "active"),
    "terminate": (customers.SubscriberTerminated, "active", "terminated"),
}


def status(
    change: str, subscriber_id: str, customer_id: str, username: str, when: datetime, reason: str | None = None
) -> DomainEvent:
    model, previous, new = _STATUS_EVENTS[change]
    event: DomainEvent = model(
        subscriber_id=subscriber_id,
        customer_id=customer_id,
        username=username,
        previous_status=previous,
        status=new,
        reason=reason,
        changed_at=when,
    )
    return event


def invoice(
    invoice_id: str,
    customer_id: str,
    balance: int,
    *,
    due: date,
    issued: date | None = None,
    currency: str = "EUR",
    partner_id: str | None = None,
    country: str | None = None,
    subscriber_id: str | None = None,
) -> billing.InvoiceIssued:
    issue_date = issued or due - timedelta(days=14)
    return billing.InvoiceIssued(
        invoice_id=invoice_id,
        invoice_number=f"INV-{invoice_id}",
        customer_id=customer_id,
        subscriber_id=subscriber_id,
        partner_id=partner_id,
        billing_country=country,
        currency=currency,
        issue_date=issue_date,
        due_date=due,
        lines=(billing.InvoiceLine(description="Internet", unit_price_minor=balance, amount_minor=balance),),
        subtotal_minor=balance,
        tax_minor=0,
        total_minor=balance,
        balance_minor=balance,
        issued_at=datetime.combine(issue_date, datetime.min.time(), UTC) + timedelta(hours=6),
    )


def payment(
    invoice_id: str,
    customer_id: str,
    applied: int,
    when: datetime,
    *,
    balance_after: int | None = None,
    currency: str = "EUR",
) -> billing.PaymentReceived:
    return billing.PaymentReceived(
        payment_id=f"pay-{uuid.uuid4().hex[:8]}",
        customer_id=customer_id,
        invoice_id=invoice_id,
        amount_minor=applied,
        applied_minor=applied,
        unapplied_minor=0,
        currency=currency,
        invoice_balance_minor=balance_after,
        received_at=when,
    )


def credit_note(
    invoice_id: str, customer_id: str, applied: int, when: datetime, currency: str = "EUR"
) -> billing.CreditNoteIssued:
    return billing.CreditNoteIssued(
        credit_note_id=f"cn-{uuid.uuid4().hex[:8]}",
        credit_note_number="CN-1",
        customer_id=customer_id,
        invoice_id=invoice_id,
        kind="manual",
        amount_minor=applied,
        applied_minor=applied,
        currency=currency,
        reason="goodwill",
        issued_at=when,
    )


def overdue(
    invoice_id: str, customer_id: str, balance: int, due: date, when: datetime, currency: str = "EUR"
) -> billing.InvoiceOverdue:
    return billing.InvoiceOverdue(
        invoice_id=invoice_id,
        invoice_number=f"INV-{invoice_id}",
        customer_id=customer_id,
        currency=currency,
        due_date=due,
        total_minor=balance,
        balance_minor=balance,
        days_past_due=max(1, (when.date() - due).days),
        detected_at=when,
    )


def paid(invoice_id: str, customer_id: str, total: int, when: datetime, currency: str = "EUR") -> billing.InvoicePaid:
    return billing.InvoicePaid(
        invoice_id=invoice_id,
        invoice_number=f"INV-{invoice_id}",
        customer_id=customer_id,
        currency=currency,
        total_minor=total,
        paid_at=when,
    )


def voided(
    invoice_id: str, customer_id: str, balance: int, when: datetime, currency: str = "EUR"
) -> billing.InvoiceVoided:
    return billing.InvoiceVoided(
        invoice_id=invoice_id,
        invoice_number=f"INV-{invoice_id}",
        customer_id=customer_id,
        currency=currency,
        reason="issued in error",
        balance_minor=balance,
        voided_at=when,
    )


def breach(
    breach_id: str,
    instance_id: str,
    customer_id: str,
    *,
    credit: int,
    detected_at: datetime,
    currency: str = "EUR",
    severity: str = "major",
) -> billing.SlaBreachDetected:
    return billing.SlaBreachDetected(
        breach_id=breach_id,
        instance_id=instance_id,
        customer_id=customer_id,
        sla_definition_id="sla-gold",
        service_id=f"sub-{instance_id}",
        service_name="Business Internet 100Mbps",
        severity=severity,  # type: ignore[arg-type]
        target_value=99.9,
        actual_value=97.5,
        deviation_percent=2.41,
        period_start=detected_at - timedelta(days=30),
        period_end=detected_at,
        detected_at=detected_at,
        credit_amount_minor=credit,
        currency=currency,
    )


def breach_resolved(breach_id: str, instance_id: str, customer_id: str, when: datetime) -> billing.SlaBreachResolved:
    return billing.SlaBreachResolved(
        breach_id=breach_id,
        instance_id=instance_id,
        customer_id=customer_id,
        resolution="link repaired",
        resolved_at=when,
    )


def sla_credit(
    breach_id: str, instance_id: str, customer_id: str, amount: int, when: datetime, currency: str = "EUR"
) -> billing.SlaCreditIssued:
    return billing.SlaCreditIssued(
        breach_id=breach_id,
        instance_id=instance_id,
        customer_id=customer_id,
        credit_note_id=f"cn-{uuid.uuid4().hex[:8]}",
        amount_minor=amount,
        currency=currency,
        rule="10% of the monthly fee per 0.1% below target",
        issued_at=when,
    )


def dunning_started(execution_id: str, invoice_id: str, customer_id: str, when: datetime) -> dunning.DunningStarted:
    return dunning.DunningStarted(
        execution_id=execution_id,
        campaign_id="camp-1",
        invoice_id=invoice_id,
        customer_id=customer_id,
        campaign_name="Standard",
        outstanding_minor=100,
        currency="EUR",
        total_steps=3,
        started_at=when,
    )


def dunning_completed(execution_id: str, invoice_id: str, customer_id: str, when: datetime) -> dunning.DunningCompleted:
    return dunning.DunningCompleted(
        execution_id=execution_id,
        campaign_id="camp-1",
        invoice_id=invoice_id,
        customer_id=customer_id,
        outcome="recovered",
        outstanding_minor=0,
        recovered_minor=100,
        currency="EUR",
        completed_at=when,
    )


def session_event(
    kind: str,
    session_key: str,
    username: str,
    *,
    start: datetime,
    when: datetime,
    seconds: int = 0,
    octets_in: int = 0,
    octets_out: int = 0,
    nas_id: str = "nas-1",
    cause: str | None = None,
    closed_by_nas_reset: str | None = None,
) -> DomainEvent:
    fields: dict[str, Any] = {
        "session_key": session_key,
        "acct_session_id": f"acct-{session_key}",
        "username": username,
        "nas_id": nas_id,
        "nas_ip_address": "10.0.1.1",
        "framed_ip_address": "100.64.1.123",
        "framed_ipv6_prefix": "2001:db8::1/128",
        "event_time": when,
        "session_start_time": start,
        "session_time_seconds": seconds,
        "input_octets": octets_in,
        "output_octets": octets_out,
    }
    if kind == "start":
        return radius.SessionStarted(**fields)
    if kind == "update":
        return radius.SessionUpdated(**fields)
    if closed_by_nas_reset is not None:  # as radius-ingest synthesises it for a NAS that reset
        reason: Any = closed_by_nas_reset
        cause = radius.TERMINATE_CAUSE_OF_RESET[reason]
        return radius.SessionStopped(**fields, terminate_cause=cause, closed_by_nas_reset=reason)
    return radius.SessionStopped(**fields, terminate_cause=cause)


def nas_reset(nas_id: str, when: datetime, reason: str = "accounting-on") -> DomainEvent:
    model = radius.NasAccountingOn if reason == "accounting-on" else radius.NasAccountingOff
    event: DomainEvent = model(nas_id=nas_id, nas_ip_address="10.0.1.1", event_time=when, reason=reason)  # type: ignore[arg-type]
    return event


def _subscription(customer_id: str, subscription_id: str, plan: str, currency: str) -> dict[str, Any]:
    return {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "subscriber_id": f"sub-{subscription_id}",
        "username": f"user-{subscription_id}",
        "plan_id": plan,
        "currency": currency,
    }


def subscription_started(
    customer_id: str, subscription_id: str, mrr: int, when: datetime, *, plan: str = "plan", currency: str = "EUR"
) -> billing.SubscriptionStarted:
    return billing.SubscriptionStarted(
        **_subscription(customer_id, subscription_id, plan, currency), mrr_before_minor=0, mrr_after_minor=mrr,
        effective_at=when, start_date=when.date(), plan_price_minor=mrr,
    )  # fmt: skip


def plan_changed(
    customer_id: str, subscription_id: str, before: int, after: int, when: datetime, *, currency: str = "EUR"
) -> billing.SubscriptionPlanChanged:
    return billing.SubscriptionPlanChanged(
        **_subscription(customer_id, subscription_id, f"plan-{after}", currency), mrr_before_minor=before,
        mrr_after_minor=after, effective_at=when, previous_plan_id=f"plan-{before}",
        timing="now" if after > before else "period_end", requested_at=when, plan_price_minor=after,
        previous_plan_price_minor=before,
    )  # fmt: skip


def subscription_canceled(
    customer_id: str, subscription_id: str, mrr: int, when: datetime, ends: datetime, *, currency: str = "EUR"
) -> billing.SubscriptionCanceled:
    return billing.SubscriptionCanceled(
        **_subscription(customer_id, subscription_id, "plan", currency), mrr_before_minor=mrr, mrr_after_minor=mrr,
        effective_at=when, cause="canceled", ends_at=ends, last_day=(ends - timedelta(days=1)).date(),
    )  # fmt: skip


def subscription_ended(
    customer_id: str, subscription_id: str, mrr: int, when: datetime, *, currency: str = "EUR"
) -> billing.SubscriptionEnded:
    return billing.SubscriptionEnded(
        **_subscription(customer_id, subscription_id, "plan", currency), mrr_before_minor=mrr, mrr_after_minor=0,
        effective_at=when, last_day=(when - timedelta(days=1)).date(),
    )  # fmt: skip
