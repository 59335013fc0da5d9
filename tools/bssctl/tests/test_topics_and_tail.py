"""`bssctl topics` and `bssctl tail` on the real broker, and how every command answers bad input."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from bss_contracts import Envelope, topics
from bss_contracts.events.customers import SubscriberSuspensionRequested
from bss_testkit.events import publish_events

from .support import Bssctl, assert_one_line_error, send

# Followers, SIGINT and rates: timing under a loaded machine, so these run alone after the parallel part.
pytestmark = [pytest.mark.timeout(180), pytest.mark.serial]


def _request(subscriber: str) -> SubscriberSuspensionRequested:
    return SubscriberSuspensionRequested(
        request_id=str(uuid.uuid4()),
        subscriber_id=subscriber,
        customer_id="c-1",
        reason="overdue",
        requested_by="dunning",
        requested_at=datetime.now(UTC),
    )


@pytest.fixture(scope="module")
async def published(kafka_bootstrap: str, prefix: str) -> dict[str, Any]:
    """On bss.customers.subscriber-requests: two hours old, 3 records; now, 4 of tenant A and 2 of tenant B
    (one subscriber of A has 2), and one record that is not an envelope."""
    requests = prefix + topics.SUBSCRIBER_COMMANDS.name
    old = Envelope.wrap(_request("sub-old"), source="/tests", tenant_id="isp-a")
    two_hours_ago = int(time.time() * 1000) - 2 * 3600 * 1000
    await send(
        kafka_bootstrap, requests, [old.model_dump_json().encode()] * 3, key=b"sub-old", timestamp_ms=two_hours_ago
    )
    now_a = await publish_events(
        kafka_bootstrap,
        prefix,
        *[(_request(s), "isp-a") for s in ("sub-1", "sub-1", "sub-2", "sub-3")],
        source="/services/dunning",
    )
    now_b = await publish_events(kafka_bootstrap, prefix, *[(_request(s), "isp-b") for s in ("sub-4", "sub-5")])
    await send(kafka_bootstrap, requests, [b"not json at all"], key=b"junk")
    return {"old": old, "a": now_a, "b": now_b}


async def test_topics_lists_every_registry_topic_as_the_broker_keeps_it(bssctl: Bssctl, published: dict[str, Any]):
    ran = await bssctl("topics", "--json")
    assert ran.code == 0, ran
    rows = {r["topic"]: r for r in ran.json()}
    assert set(rows) == {n for t in topics.ALL_TOPICS for n in (t.name, t.dead_letter)}
    for t in topics.ALL_TOPICS:
        row = rows[t.name]
        assert row["partitions"] == t.partitions == row["registry"]["partitions"]
        assert row["producer"] == t.producer.value
        assert row["consumers"] == [c.value for c in t.consumers]
        assert row["cleanup_policy"] == ("compact" if t.compacted else "delete")
        assert rows[t.dead_letter]["partitions"] == 1
    assert rows["bss.radius.session"]["retention"] == "400d"
    assert rows["bss.customers.customer"]["retention"] == "forever"
    assert rows["bss.customers.subscriber-requests"]["retention"] == "30d"
    requests = rows["bss.customers.subscriber-requests"]
    assert requests["records"] == 3 + 4 + 2 + 1 == sum(requests["end_offsets"].values())
    assert rows["bss.billing.invoice"]["records"] == 0
    # Bytes on disk (DescribeLogDirs): at least the values written, nothing for an empty topic.
    written = sum(len(e.model_dump_json()) for e in [published["old"]] * 3 + published["a"] + published["b"])
    assert requests["bytes"] >= written and rows["bss.billing.invoice"]["bytes"] == 0

    table = await bssctl("topics")
    assert table.code == 0
    [line] = [x for x in table.lines() if x.startswith("bss.customers.subscriber-requests ")]
    assert line.split()[1:5] == ["6", "delete", "30d", "dunning"]
    assert line.split()[6] == "10" and line.split()[7].endswith("KiB")


async def test_tail_decodes_envelopes_and_filters_by_type_tenant_and_key(bssctl: Bssctl, published: dict[str, Any]):
    topic = "bss.customers.subscriber-requests"
    everything = await bssctl("tail", topic, "--from-beginning", "--json")
    assert everything.code == 0, everything
    records = [json.loads(x) for x in everything.lines()]
    assert len(records) == 10
    [junk] = [r for r in records if "envelope" not in r]
    assert junk["key"] == "junk" and junk["value"] == "not json at all" and junk["error"].startswith("not an envelope")

    tenant_b = [
        json.loads(x) for x in (await bssctl("tail", topic, "--from-beginning", "--tenant", "isp-b", "--json")).lines()
    ]
    assert sorted(r["envelope"]["id"] for r in tenant_b) == sorted(str(e.id) for e in published["b"])
    assert all(r["headers"]["tenant_id"] == "isp-b" for r in tenant_b)

    sub_1 = [
        json.loads(x) for x in (await bssctl("tail", topic, "--from-beginning", "--key", "sub-1", "--json")).lines()
    ]
    assert [r["envelope"]["id"] for r in sub_1] == [str(e.id) for e in published["a"][:2]]
    assert sub_1[0]["envelope"]["data"]["subscriber_id"] == "sub-1"

    typed = await bssctl("tail", topic, "--from-beginning", "--type", SubscriberSuspensionRequested.event_type)
    assert typed.code == 0 and len(typed.lines()) == 9  # every envelope, not the junk record
    assert all(f" {SubscriberSuspensionRequested.event_type} " in x for x in typed.lines())
    none = await bssctl("tail", topic, "--from-beginning", "--type", "bss.no.such.type")
    assert none.code == 0 and none.out == ""

    # Lines: one per record, with the CloudEvents fields a reader needs.
    first_b = published["b"][0]
    [line] = [x for x in typed.lines() if str(first_b.id) in x]
    assert f"tenant=isp-b subject=sub-4 id={first_b.id} corr={first_b.correlation_id}" in line


async def test_tail_starts_where_asked_and_stops_at_the_limit(bssctl: Bssctl, published: dict[str, Any]):
    topic = "bss.customers.subscriber-requests"
    recent = [json.loads(x) for x in (await bssctl("tail", topic, "--since", "1h", "--json")).lines()]
    assert len(recent) == 7  # the three records stamped two hours ago are before --since
    assert str(published["old"].id) not in {r.get("envelope", {}).get("id") for r in recent}
    by_default = await bssctl("tail", topic, "--json")
    assert len(by_default.lines()) == 10  # the last 10 of each partition: all of them here

    [old] = [
        json.loads(x)
        for x in (await bssctl("tail", topic, "--from-beginning", "--key", "sub-old", "--json", "--limit", "1")).lines()
    ]
    partition, offset = old["partition"], old["offset"]
    from_there = [
        json.loads(x) for x in (await bssctl("tail", topic, "--offset", f"{partition}:{offset + 1}", "--json")).lines()
    ]
    assert from_there and {r["partition"] for r in from_there} == {partition}
    assert [r["offset"] for r in from_there] == list(range(offset + 1, offset + 1 + len(from_there)))

    limited = await bssctl("tail", topic, "--from-beginning", "--limit", "2")
    assert limited.code == 0 and len(limited.lines()) == 2


async def test_tail_follow_prints_records_published_after_it_started(
    bssctl: Bssctl, kafka_bootstrap: str, prefix: str, published: dict[str, Any]
):
    process = await bssctl.start(
        "tail", "bss.billing.usage", "--since", "1s", "--follow", "--tenant", "isp-f", "--json", "--limit", "3"
    )
    await asyncio.sleep(3)  # it is reading before the records exist
    later = await publish_events(kafka_bootstrap, prefix, *[(_request(f"f-{i}"), "isp-f") for i in range(3)])
    assert later  # on the subscriber-requests topic: not followed
    usage_topic = prefix + topics.USAGE.name
    envs = [Envelope.wrap(_request(f"u-{i}"), source="/tests", tenant_id="isp-f") for i in range(4)]
    await send(kafka_bootstrap, usage_topic, [e.model_dump_json().encode() for e in envs], key=b"u")
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err
    assert [json.loads(x)["envelope"]["id"] for x in out.decode().splitlines()] == [str(e.id) for e in envs[:3]]


async def test_ctrl_c_ends_a_follower_quietly(bssctl: Bssctl, kafka_bootstrap: str, prefix: str):
    process = await bssctl.start("tail", topics.SUBSCRIBER_COMMANDS.name, "--follow")
    assert process.stdout is not None
    # Interrupted once it follows: a record published now shows (a follower starts at the end of the topic).
    first_line: asyncio.Task[bytes] = asyncio.create_task(process.stdout.readline())
    deadline = time.monotonic() + 60
    while not first_line.done() and time.monotonic() < deadline:
        await publish_events(kafka_bootstrap, prefix, (_request("sub-follow"), "isp-a"))
        await asyncio.wait([first_line], timeout=1.0)
    assert first_line.done() and first_line.result(), "the follower printed nothing"
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 130 and b"Traceback" not in err, err


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.4])
async def test_ctrl_c_while_bssctl_is_starting_is_quiet(bssctl: Bssctl, delay: float):
    process = await bssctl.start("topics")  # its imports take longer than `delay`
    await asyncio.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert b"Traceback" not in err, err
    # 130 if the imports were running, 0 if the command had started (as a Ctrl-C during its work), -2 if the
    # interpreter itself was still starting (Python's default SIGINT action, before it installs its handler).
    assert process.returncode in (130, 0, -signal.SIGINT), (process.returncode, err)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("tail", "bss.no.such.topic"), ("unknown topic 'bss.no.such.topic'", "bss.radius.session")),
        (("tail", "bss.radius.nas", "--offset", "zero"), ("bad --offset 'zero'",)),
        (("tail", "bss.radius.nas", "--offset", "7:0"), ("has no partition 7",)),
        (("tail", "bss.radius.nas", "--since", "yesterday"), ("bad time 'yesterday'",)),
        (("tail", "bss.radius.nas", "--since", "1h", "--from-beginning"), ("at most one of",)),
        (("tail", "bss.radius.nas", "--no-such-option"), ("No such option",)),
        (("lag", "--service", "crm"), ("unknown service 'crm'", "customers")),
        (("replay", "--service", "billing", "--since", "1h", "--group", "reporting"), ("not a group of billing",)),
        (("trace", str(uuid.UUID(int=7))), ("no event with id",)),
        (("dlq", "redrive"), ("choose what to redrive",)),
        (("dlq", "redrive", "--id", "nothing-like-it"), ("no dead letter with event id or ref nothing-like-it",)),
        (("dlq", "show", "nothing-like-it"), ("no dead letter",)),
        (("dlq", "list", "--topic", "bss.nope"), ("unknown topic 'bss.nope'",)),
        (("outbox", "--service", "customers"), ("CUSTOMERS_DATABASE_URL is not set",)),
    ],
)
async def test_bad_input_is_one_line_and_exit_2(bssctl: Bssctl, args: tuple[str, ...], fragments: tuple[str, ...]):
    assert_one_line_error(await bssctl(*args), 2, *fragments)


async def test_an_unreachable_broker_is_one_line_and_exit_3(bssctl: Bssctl):
    ran = await bssctl("topics", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9")
    assert_one_line_error(ran, 3, "KafkaConnectionError", "127.0.0.1")


async def test_every_command_has_help(bssctl: Bssctl):
    commands = (
        "topics",
        "lag",
        "tail",
        "trace",
        "outbox",
        "replay",
        "metrics",
        "dlq",
        "dlq list",
        "dlq show",
        "dlq redrive",
    )
    for command in commands:
        ran = await bssctl(*command.split(), "--help")
        assert ran.code == 0 and "Usage: bssctl" in ran.out, (command, ran)
    bare = await bssctl()
    assert bare.code == 0 and "Exit codes: 0 ok, 1 threshold exceeded, 2 bad input" in " ".join(bare.out.split())
