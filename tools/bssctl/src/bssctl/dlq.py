"""`bssctl dlq list|show|redrive`: the dead letters of every topic and putting them back.

A dead letter is the original record value with the original headers plus the `dlq.*` headers
`bss_runtime.consumer` adds: reason, error, original topic/partition/offset and the consumer group.

Redrive republishes the chosen dead letters to their source topic, on the partition they came from and with
their envelope's subject as the key (so they keep their place in their key's order), with the original headers
and `bssctl.redrive.*` headers naming the redrive. Every consumer group of the source topic sees the record
again; the groups that had applied it find its id in their `processed_events` and skip it, so only the group
that failed it applies it. A redrive is therefore harmless to repeat.

Each redrive is recorded, after the broker acknowledged the republished record, on the audit topic
`bss.ops.redrives` (same prefix as the deployment): who, when, which dead letter, where it went. A Kafka
topic rather than a local file, because several operators on different machines redrive the same
deployment and each must see what the others did; the record lives as long as the data it is about
(retention forever, like the dead-letter topics). `dlq list` shows from it whether a dead letter was
redriven, and `redrive` skips those unless `--force`.
"""

from __future__ import annotations

import getpass
import json
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from bss_contracts.topics import ALL_TOPICS, dead_letter_name
from bssctl import inventory
from bssctl.inventory import BadInput
from bssctl.kafka import Cluster, Record, producer

AUDIT_TOPIC = "bss.ops.redrives"
AUDIT_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1"}
REDRIVE_HEADER = "bssctl.redrive.id"


@dataclass(frozen=True)
class DeadLetter:
    record: Record

    @property
    def ref(self) -> str:
        """Where the dead letter itself is: `<dlq topic>:<partition>:<offset>`."""
        return f"{self.record.topic}:{self.record.partition}:{self.record.offset}"

    def header(self, name: str) -> str | None:
        return self.record.headers.get(f"dlq.{name}")

    @property
    def event_id(self) -> str | None:
        env = self.record.envelope
        return str(env.id) if env is not None else self.record.headers.get("ce_id")

    @property
    def event_type(self) -> str | None:
        env = self.record.envelope
        return env.type if env is not None else self.record.headers.get("ce_type")

    def summary(self, redrives: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        done = redrives.get(self.ref, [])
        return {
            "ref": self.ref,
            "dead_lettered_at": self.record.timestamp.isoformat(),
            "reason": self.header("reason"),
            "group": self.header("consumer.group"),
            "source": f"{self.header('original.topic')}:{self.header('original.partition')}:"
            f"{self.header('original.offset')}",
            "event_id": self.event_id,
            "event_type": self.event_type,
            "error": self.header("error"),
            "redriven": [{"at": r["at"], "by": r["by"], "redrive_id": r["redrive_id"]} for r in done],
        }


def _dlq_topics(topic: str | None) -> list[str]:
    """The dead-letter topics of one registry topic (named with or without `.dlq`), or of all."""
    if topic is None:
        return [t.dead_letter for t in ALL_TOPICS]
    return [dead_letter_name(inventory.topic_name(topic).removesuffix(inventory.DLQ_SUFFIX))]


async def dead_letters(
    cluster: Cluster, topic: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> list[DeadLetter]:
    """The dead letters of one topic (or all), dead-lettered in [since, until)."""
    existing = await cluster.existing()
    found = []
    for name in _dlq_topics(topic):
        if name not in existing:
            continue
        tps = await cluster.partitions(name)
        begin = await (cluster.offsets_at(tps, since) if since else cluster.beginning_offsets(tps))
        found.extend([DeadLetter(r) async for r in cluster.read(begin) if until is None or r.timestamp < until])
    return found


async def redrives(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    """The audit records, by dead-letter ref."""
    if AUDIT_TOPIC not in await cluster.existing():
        return {}
    tps = await cluster.partitions(AUDIT_TOPIC)
    by_ref: dict[str, list[dict[str, Any]]] = {}
    async for record in cluster.read(await cluster.beginning_offsets(tps)):
        entry = json.loads(record.value)
        by_ref.setdefault(entry["dead_letter"], []).append(entry)
    return by_ref


def select(
    letters: Iterable[DeadLetter], *, ids: Iterable[str] = (), reason: str | None = None, everything: bool = False
) -> list[DeadLetter]:
    ids = set(ids)
    if not (ids or reason or everything):
        raise BadInput("choose what to redrive: --id EVENT_ID (repeatable), --reason REASON or --all")
    chosen = [
        d
        for d in letters
        if everything
        or ((not ids or d.event_id in ids or d.ref in ids) and (reason is None or d.header("reason") == reason))
    ]
    missing = ids - {d.event_id for d in chosen} - {d.ref for d in chosen}
    if missing:
        raise BadInput(f"no dead letter with event id or ref {', '.join(sorted(missing))}")
    return chosen


def _who(by: str | None) -> str:
    return by or f"{getpass.getuser()}@{socket.gethostname()}"


async def redrive(
    cluster: Cluster, chosen: list[DeadLetter], *, dry_run: bool, force: bool, by: str | None
) -> list[dict[str, Any]]:
    """Republish each chosen dead letter to its source; returns what was (or, dry, would be) done with each."""
    done_before = await redrives(cluster)
    plan = []
    for letter in chosen:
        source = letter.header("original.topic")
        if source is None or not source.startswith(cluster.prefix):
            raise BadInput(f"dead letter {letter.ref} names no source topic of this deployment ({source!r})")
        skip = bool(done_before.get(letter.ref)) and not force
        plan.append((letter, source, skip))
    results = []
    if dry_run:
        for letter, source, skip in plan:
            action = "skip (already redriven; --force to redrive again)" if skip else "would redrive"
            results.append({"ref": letter.ref, "event_id": letter.event_id, "to": source, "action": action})
        return results
    await cluster.ensure_topic(AUDIT_TOPIC, AUDIT_CONFIG)
    kafka = await producer(cluster.bootstrap)
    try:
        for letter, source, skip in plan:
            if skip:
                results.append({"ref": letter.ref, "event_id": letter.event_id, "to": source, "action": "skipped"})
                continue
            results.append(await _redrive_one(kafka, cluster, letter, source, _who(by)))
    finally:
        await kafka.stop()
    return results


async def _redrive_one(
    kafka: AIOKafkaProducer, cluster: Cluster, letter: DeadLetter, source: str, who: str
) -> dict[str, Any]:
    redrive_id = str(uuid.uuid4())
    record = letter.record
    headers = {k: v for k, v in record.headers.items() if not k.startswith("dlq.")} | {
        REDRIVE_HEADER: redrive_id,
        "bssctl.redrive.from": letter.ref,
    }
    partition = letter.header("original.partition")
    key = record.envelope.subject if record.envelope is not None else record.key
    sent = await kafka.send_and_wait(
        source,
        record.value,
        key=key.encode() if key is not None else None,
        partition=int(partition) if partition is not None and partition.isdigit() else None,
        headers=[(k, v.encode()) for k, v in headers.items()],
    )
    entry = {
        "redrive_id": redrive_id,
        "at": datetime.now(UTC).isoformat(),
        "by": who,
        "dead_letter": letter.ref,
        "event_id": letter.event_id,
        "event_type": letter.event_type,
        "reason": letter.header("reason"),
        "group": letter.header("consumer.group"),
        "source": f"{letter.header('original.topic')}:{partition}:{letter.header('original.offset')}",
        "republished": f"{source}:{sent.partition}:{sent.offset}",
    }
    await kafka.send_and_wait(
        cluster.full(AUDIT_TOPIC), json.dumps(entry).encode(), key=letter.ref.encode(), headers=[]
    )
    return {
        "ref": letter.ref,
        "event_id": letter.event_id,
        "to": entry["republished"],
        "action": "redriven",
        "redrive_id": redrive_id,
    }
