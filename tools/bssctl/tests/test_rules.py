"""The pure rules of bssctl, without a broker: times, names, groups, retention, the causation tree."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bss_contracts import RawEnvelope
from bss_contracts.topics import Service
from bssctl import inventory, topics, trace
from bssctl.inventory import BadInput
from bssctl.kafka import Record
from bssctl.tail import parse_offset

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30s", NOW - timedelta(seconds=30)),
        ("10m", NOW - timedelta(minutes=10)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-12-01T08:00:00", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        ("2026-12-01T08:00:00+01:00", datetime(2026, 12, 1, 7, 0, tzinfo=UTC)),
    ],
)
def test_since_takes_durations_and_iso_times(value: str, expected: datetime) -> None:
    assert inventory.since(value, now=NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "10", "5y", "-3m", ""])
def test_since_rejects_anything_else(value: str) -> None:
    with pytest.raises(BadInput, match="bad time"):
        inventory.since(value, now=NOW)


def test_groups_follow_the_registry_and_radius_ingest_has_its_tracker() -> None:
    names = {g.name: [t.name for t in g.topics] for g in inventory.groups()}
    assert names["customers"] == ["bss.customers.subscriber-requests"]
    assert names["radius-ingest-session-tracker"] == ["bss.radius.session"]
    assert "radius-ingest" not in names  # it consumes nothing through the runtime's consumer
    assert set(names["reporting"]) >= {"bss.customers.customer", "bss.billing.invoice", "bss.radius.session"}
    assert [g.name for g in inventory.groups(Service.RADIUS_INGEST)] == ["radius-ingest-session-tracker"]
    with pytest.raises(BadInput, match="unknown consumer group 'billingx'"):
        inventory.group("billingx")


def test_topic_names_are_registry_names_or_their_dead_letter_twins() -> None:
    assert inventory.topic_name("bss.radius.session") == "bss.radius.session"
    assert inventory.topic_name("bss.radius.session.dlq") == "bss.radius.session.dlq"
    for wrong in ("bss.radius", "radius.session", "bss.radius.session.dlq.dlq"):
        with pytest.raises(BadInput, match="unknown topic"):
            inventory.topic_name(wrong)


def test_offsets_and_retention_read_as_people_write_them() -> None:
    assert parse_offset("3:1200") == (3, 1200)
    for wrong in ("3", ":1", "a:1", "3:-1"):
        with pytest.raises(BadInput):
            parse_offset(wrong)
    assert [topics.retention(v) for v in ("-1", 400 * 86_400_000, "3600000", None)] == ["forever", "400d", "1h", "-"]
    sizes = (0, 1023, 1536, 5 * 1024**2, 3 * 1024**3, 5000 * 1024**3)
    assert [topics.size(n) for n in sizes] == ["0B", "1023B", "1.5KiB", "5.0MiB", "3.0GiB", "5000.0GiB"]


def _record(offset: int, *, cause: uuid.UUID | None, flow: uuid.UUID, event: uuid.UUID, minute: int) -> Record:
    envelope = RawEnvelope(
        specversion="1.0",
        id=event,
        source="/t",
        type=f"t.{offset}",
        time=NOW + timedelta(minutes=minute),
        subject="s",
        schema_version=1,
        tenant_id="isp",
        correlation_id=flow,
        causation_id=cause,
        data={},
    )
    return Record("bss.t", 0, offset, 0, "s", envelope.model_dump_json().encode(), envelope, None)


def test_the_tree_hangs_each_event_under_its_cause_and_shows_a_duplicate_once() -> None:
    flow, a, b, c, d = (uuid.uuid4() for _ in range(5))
    records = [
        _record(0, cause=None, flow=flow, event=a, minute=0),
        _record(1, cause=a, flow=flow, event=b, minute=1),
        _record(2, cause=b, flow=flow, event=c, minute=2),
        _record(3, cause=a, flow=flow, event=d, minute=3),
        _record(4, cause=b, flow=flow, event=c, minute=4),  # c again (a redrive): shown once
        _record(5, cause=uuid.uuid4(), flow=flow, event=uuid.uuid4(), minute=5),  # its cause is not in the flow
    ]
    roots = trace.tree(records)
    assert [r["offset"] for r in roots] == [0, 5]
    [first, _] = roots
    assert [n["offset"] for n in first["caused"]] == [1, 3]
    assert [n["offset"] for n in first["caused"][0]["caused"]] == [2]
    assert trace.render(roots) == [
        f"t.0  {NOW.isoformat()}  bss.t[0@0]  subject=s id={a}",
        f"├─ t.1  {(NOW + timedelta(minutes=1)).isoformat()}  bss.t[0@1]  subject=s id={b}",
        f"│  └─ t.2  {(NOW + timedelta(minutes=2)).isoformat()}  bss.t[0@2]  subject=s id={c}",
        f"└─ t.3  {(NOW + timedelta(minutes=3)).isoformat()}  bss.t[0@3]  subject=s id={d}",
        f"t.5  {(NOW + timedelta(minutes=5)).isoformat()}  bss.t[0@5]  subject=s id={records[5].envelope.id}"  # type: ignore[union-attr]
        f"  (caused by {records[5].envelope.causation_id}, not found since --since)",  # type: ignore[union-attr]
    ]
