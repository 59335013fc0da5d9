"""The committed event schemas match the code, and no change breaks existing consumers unversioned."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bss_contracts import CurrencyMismatch, Envelope, Money, RawEnvelope
from bss_contracts.compat import breaking_changes
from bss_contracts.events.billing import (
    InvoiceOverdue,
    SubscriptionCanceled,
    SubscriptionEnded,
    SubscriptionPlanChanged,
    SubscriptionStarted,
)
from bss_contracts.registry import BY_TYPE, EVENT_MODELS, json_schema
from bss_contracts.schemas import SCHEMA_DIR, render, schema_path
from bss_contracts.topics import ALL_TOPICS


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.event_type)
def test_committed_schema_is_current_and_compatible_with_every_older_version(model):
    committed = schema_path(model)
    assert committed.exists(), f"{committed.name} is not committed: run `make schemas`"
    # Every committed version of this type (v1 .. current) must be readable by the newest schema's readers
    # only if versions match; within one version, the current code must not break the committed schema.
    problems = breaking_changes(json.loads(committed.read_text()), json_schema(model))
    assert not problems, (
        f"{model.event_type} v{model.schema_version} breaks its consumers: {problems}. "
        "Bump schema_version (keeping the old schema file) or make the change compatible."
    )
    assert committed.read_text() == render(model), f"{committed.name} is stale: run `make schemas`"


def test_no_committed_schema_is_orphaned():
    known = {schema_path(m).name for m in EVENT_MODELS}
    for path in SCHEMA_DIR.glob("*.json"):
        event_type, version = path.name.removesuffix(".json").rsplit(".v", 1)
        assert event_type in BY_TYPE, f"{path.name}: event type removed; consumers of it would break"
        assert int(version) <= BY_TYPE[event_type].schema_version
    assert known <= {p.name for p in SCHEMA_DIR.glob("*.json")}


def _schema(props: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": props, "required": required}


STR = {"type": "string"}
INT = {"type": "integer"}
OPT_STR = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (_schema({"a": STR}, ["a"]), "b: field removed"),
        (_schema({"a": STR, "c": INT}, ["a", "c"]), "b: field removed"),  # renamed b -> c
        (_schema({"a": INT, "b": INT}, ["a", "b"]), "a: type changed"),
        (_schema({"a": STR, "b": INT, "d": OPT_STR}, ["a", "b", "d"]), "d: optional field made required"),
        (_schema({"a": STR, "b": INT, "e": STR}, ["a", "b", "e"]), "e: new required field"),
    ],
)
def test_breaking_changes_are_caught(new, expected):
    old = _schema({"a": STR, "b": INT, "d": OPT_STR}, ["a", "b"])
    problems = breaking_changes(old, new)
    assert any(expected in p for p in problems), problems


def test_compatible_changes_pass():
    old = _schema({"a": STR, "b": INT}, ["a", "b"])
    widened = _schema({"a": STR, "b": {"type": "number"}, "c": OPT_STR}, ["a", "b"])
    assert breaking_changes(old, widened) == []


def test_a_real_breaking_edit_of_a_real_event_is_caught():
    committed = json.loads(schema_path(InvoiceOverdue).read_text())
    edited = json.loads(json.dumps(committed))
    edited["properties"]["amount_due_minor"] = edited["properties"].pop("balance_minor")
    edited["required"] = [("amount_due_minor" if r == "balance_minor" else r) for r in edited["required"]]
    assert any("balance_minor: field removed" in p for p in breaking_changes(committed, edited))


def test_envelope_round_trip_and_unknown_fields_are_ignored_by_readers():
    data = InvoiceOverdue(
        invoice_id="inv-1",
        invoice_number="2026-000001",
        customer_id="c-1",
        currency="EUR",
        due_date=datetime(2026, 1, 1, tzinfo=UTC).date(),
        total_minor=1999,
        balance_minor=999,
        days_past_due=3,
        detected_at=datetime(2026, 1, 4, tzinfo=UTC),
    )
    env = Envelope.wrap(data, source="/services/billing", tenant_id="acme")
    wire = json.loads(env.model_dump_json())
    wire["data"]["added_by_a_newer_producer"] = 1
    back = RawEnvelope.model_validate(wire).parse_data(InvoiceOverdue)
    assert back.data == data and back.id == env.id and back.subject == "inv-1"
    assert back.correlation_id == env.id  # a flow's first event starts its correlation


def test_money_never_adds_different_currencies():
    assert (Money(amount_minor=150, currency="EUR") + Money(amount_minor=50, currency="EUR")).amount_minor == 200
    with pytest.raises(CurrencyMismatch):
        Money(amount_minor=1, currency="EUR") + Money(amount_minor=1, currency="USD")
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(amount_minor=1, currency="EURO")


def test_every_topic_has_a_producer_and_every_event_a_registered_topic():
    names = [t.name for t in ALL_TOPICS]
    assert len(names) == len(set(names))
    for model in EVENT_MODELS:
        assert model.topic in ALL_TOPICS
        assert model.key_field in model.model_fields


def test_subscription_events_are_keyed_by_customer_and_carry_mrr_before_and_after():
    changed = SubscriptionPlanChanged(
        subscription_id="s-1",
        customer_id="c-1",
        subscriber_id="sub-1",
        username="alice@isp",
        plan_id="p-fast",
        previous_plan_id="p-basic",
        currency="EUR",
        mrr_before_minor=2999,
        mrr_after_minor=4999,
        plan_price_minor=4999,
        previous_plan_price_minor=2999,
        timing="now",
        requested_at=datetime(2026, 3, 11, tzinfo=UTC),
        effective_at=datetime(2026, 3, 11, tzinfo=UTC),
    )
    env = Envelope.wrap(changed, source="/services/billing", tenant_id="acme")
    back = RawEnvelope.model_validate(json.loads(env.model_dump_json())).parse_data(SubscriptionPlanChanged)
    assert back.data == changed and back.subject == "c-1" and back.type == "bss.billing.subscription.plan-changed"
    assert {m.topic.name for m in (SubscriptionStarted, SubscriptionCanceled, SubscriptionEnded)} == {
        "bss.billing.subscription"
    }
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        SubscriptionEnded.model_validate(changed.model_dump() | {"mrr_after_minor": -1, "last_day": "2026-03-31"})


def test_a_new_invoice_line_kind_is_a_compatible_widening():
    narrow = _schema({"kind": {"enum": ["subscription", "credit"]}}, ["kind"])
    wide = _schema({"kind": {"enum": ["subscription", "credit", "proration"]}}, ["kind"])
    assert breaking_changes(narrow, wide) == []
    assert any("kind: type changed" in p for p in breaking_changes(wide, narrow))
