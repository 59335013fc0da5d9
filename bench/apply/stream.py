"""The benchmark's event stream: what the producing services publish for a small ISP's busy hour.

Customers and their subscribers (customers service), invoices (billing), and RADIUS sessions (radius-ingest):
each session a Start, `interims` Interim-Updates and a Stop, on one of 20 NAS, interleaved as a NAS fleet
sends them (sessions start at random moments; events ordered by time). Envelopes are built with the
contracts' own models and sent with the CloudEvents headers the outbox relay sends, keyed as the relay keys.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bss_contracts import DomainEvent, Envelope
from bss_contracts.events import billing, customers, radius


@dataclass(frozen=True)
class Stream:
    envelopes: list[Envelope[Any]]
    sessions: int
    session_events: int

    def count_on(self, topic: str) -> int:
        return sum(1 for e in self.envelopes if e.data.topic.name == topic)


def build(
    *, sessions: int, interims: int = 2, subscribers: int = 2000, tenant: str = "bench-isp", seed: int = 7
) -> Stream:
    rng = random.Random(seed)
    start_of_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    out: list[tuple[datetime, DomainEvent]] = []
    made = datetime(2025, 1, 1, tzinfo=UTC)
    n_customers = max(1, subscribers // 2)
    for c in range(n_customers):
        state = customers.CustomerState(
            customer_id=f"c{c}", name=f"Customer {c}", created_at=made, updated_at=made, region=f"r{c % 7}"
        )
        out.append((made, customers.CustomerCreated(customer_id=f"c{c}", customer=state)))
        issue = date(2025, 1, 1) + timedelta(days=c % 28)
        out.append(
            (
                made,
                billing.InvoiceIssued(
                    invoice_id=f"i{c}", invoice_number=f"INV-{c}", customer_id=f"c{c}", currency="EUR",
                    issue_date=issue, due_date=issue + timedelta(days=14),
                    lines=(billing.InvoiceLine(description="Internet", unit_price_minor=4_900, amount_minor=4_900),),
                    subtotal_minor=4_900, tax_minor=0, total_minor=4_900, balance_minor=4_900, issued_at=made,
                ),
            )
        )  # fmt: skip
    for s in range(subscribers):
        out.append(
            (
                made,
                customers.SubscriberCreated(
                    subscriber_id=f"s{s}", customer_id=f"c{s % n_customers}", username=f"user{s}@bench",
                    plan_id="plan-100", created_at=made,
                ),
            )
        )  # fmt: skip
    session_events = 0
    for k in range(sessions):
        begin = start_of_hour + timedelta(seconds=rng.uniform(0, 3600))
        user = rng.randrange(subscribers)
        nas = rng.randrange(20)
        common: dict[str, Any] = {
            "session_key": f"{nas:02d}{k:08x}{rng.getrandbits(64):016x}",
            "acct_session_id": f"{k:08X}",
            "username": f"user{user}@bench",
            "nas_id": f"nas-{nas}",
            "nas_ip_address": f"10.0.{nas}.1",
            "nas_identifier": f"bras-{nas}",
            "nas_port": k % 4096,
            "nas_port_id": f"eth0.{k % 4096}",
            "nas_port_type": "Ethernet",
            "framed_ip_address": f"100.64.{(k >> 8) % 256}.{k % 256}",
            "calling_station_id": f"02:00:00:{(k >> 16) % 256:02x}:{(k >> 8) % 256:02x}:{k % 256:02x}",
            "session_start_time": begin,
        }
        octets_in = octets_out = 0
        steps: list[tuple[type[DomainEvent], int]] = [(radius.SessionStarted, 0)]
        steps += [(radius.SessionUpdated, 300 * (i + 1)) for i in range(interims)]
        steps.append((radius.SessionStopped, 300 * interims + rng.randrange(1, 300)))
        for model, seconds in steps:
            octets_in += rng.randrange(0, 2**31) if seconds else 0
            octets_out += rng.randrange(0, 2**33) if seconds else 0
            extra = {"terminate_cause": "User-Request"} if model is radius.SessionStopped else {}
            when = begin + timedelta(seconds=seconds)
            event = model(
                **common, event_time=when, session_time_seconds=seconds, input_octets=octets_in,
                output_octets=octets_out, input_packets=octets_in // 1000, output_packets=octets_out // 1000, **extra,
            )  # fmt: skip
            out.append((when, event))
            session_events += 1
    out.sort(key=lambda pair: pair[0])  # as the NAS fleet sends them
    envelopes = [
        Envelope.wrap(event, source=_source(event), tenant_id=tenant, time=when, event_id=None) for when, event in out
    ]
    return Stream(envelopes, sessions, session_events)


def _source(event: DomainEvent) -> str:
    return "/services/" + {"radius": "radius-ingest", "billing": "billing"}.get(
        event.event_type.split(".")[1], "customers"
    )
