"""The broker as bssctl sees it: topic metadata and configs, offsets, groups, and records read by range.

Reading never joins a consumer group (no group id, no commits): looking at a topic changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pydantic import ValidationError

from bss_contracts import RawEnvelope
from bssctl.inventory import BadInput

TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Record:
    """One record with its envelope decoded (or why it could not be)."""

    topic: str  # without the deployment's prefix
    partition: int
    offset: int
    timestamp: datetime
    key: str | None
    headers: dict[str, str]
    value: bytes
    envelope: RawEnvelope | None
    error: str | None = None

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any], prefix: str) -> Record:
        value: bytes = record.value or b""
        envelope, error = None, None
        try:
            envelope = RawEnvelope.model_validate_json(value)
        except ValidationError as exc:
            error = f"not an envelope: {exc.error_count()} error(s), first: {exc.errors()[0]['msg']}"
        return cls(
            topic=record.topic.removeprefix(prefix),
            partition=record.partition,
            offset=record.offset,
            timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
            key=record.key.decode(errors="replace") if record.key is not None else None,
            headers={k: v.decode(errors="replace") for k, v in (record.headers or ())},
            value=value,
            envelope=envelope,
            error=error,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp.isoformat(),
            "key": self.key,
            "headers": self.headers,
        }
        if self.envelope is not None:
            out["envelope"] = self.envelope.model_dump(mode="json")
        else:
            out["error"] = self.error
            out["value"] = self.value.decode(errors="replace")
        return out


@dataclass(frozen=True)
class GroupState:
    state: str  # Stable, Empty, Dead (never existed), PreparingRebalance, ...
    members: tuple[str, ...] = field(default=())  # client ids


class Cluster:
    """Admin client and a group-less consumer on one broker, with the deployment's topic prefix."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_MS)
        self.consumer = self.reader()

    def reader(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=TIMEOUT_MS,
        )

    async def __aenter__(self) -> Cluster:
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.consumer.stop()
        except asyncio.CancelledError:
            # aiokafka 0.14 lets the cancellation of its own offset-reset task escape stop() when the consumer
            # stops right after it started; only a cancellation of ours may propagate.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        await self.admin.close()

    def full(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def existing(self) -> set[str]:
        """Names (without the prefix) of this deployment's topics on the broker."""
        return {t.removeprefix(self.prefix) for t in await self.admin.list_topics() if t.startswith(self.prefix)}

    async def partitions(self, name: str) -> list[TopicPartition]:
        [described] = await self.admin.describe_topics([self.full(name)])
        if described["error_code"] != 0:
            raise BadInput(f"topic {self.full(name)!r} does not exist on the broker at {self.bootstrap}")
        full = self.full(name)
        return sorted(TopicPartition(full, p["partition"]) for p in described["partitions"])

    async def config(self, name: str) -> dict[str, str]:
        [response] = await self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, self.full(name))])
        [resource] = response.to_object()["resources"]
        return {e["config_names"]: e["config_value"] for e in resource["config_entries"]}

    async def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        tps = list(tps)
        return dict(await self.consumer.end_offsets(tps)) if tps else {}

    async def beginning_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        tps = list(tps)
        return dict(await self.consumer.beginning_offsets(tps)) if tps else {}

    async def offsets_at(self, tps: Iterable[TopicPartition], at: datetime) -> dict[TopicPartition, int]:
        """Per partition, the first offset at or after `at` (the end offset if there is none)."""
        tps = list(tps)
        if not tps:
            return {}
        found = await self.consumer.offsets_for_times({tp: int(at.timestamp() * 1000) for tp in tps})
        ends = await self.end_offsets(tps)
        return {tp: hit.offset if (hit := found.get(tp)) is not None else ends[tp] for tp in tps}

    async def group(self, name: str) -> GroupState:
        # One group per request: aiokafka 0.14 mis-decodes a response that describes several groups.
        [response] = await self.admin.describe_consumer_groups([name])
        [described] = response.to_object()["groups"]
        return GroupState(described["state"], tuple(m["client_id"] for m in described["members"]))

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        """The group's committed offsets on this deployment's topics."""
        offsets = await self.admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in offsets.items() if tp.topic.startswith(self.prefix)}

    async def first_timestamps(
        self, starts: dict[TopicPartition, int], wait_s: float = 5.0
    ) -> dict[TopicPartition, datetime]:
        """The timestamp of the first record at or after each start offset (partitions with none are left out)."""
        if not starts:
            return {}
        consumer = self.reader()
        await consumer.start()
        found: dict[TopicPartition, datetime] = {}
        try:
            consumer.assign(list(starts))
            for tp, offset in starts.items():
                consumer.seek(tp, offset)
            deadline = time.monotonic() + wait_s
            while len(found) < len(starts) and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                for tp, records in batches.items():
                    if records and tp not in found:
                        found[tp] = datetime.fromtimestamp(records[0].timestamp / 1000, UTC)
                        consumer.pause(tp)
        finally:
            await consumer.stop()
        return found

    async def read(
        self, starts: dict[TopicPartition, int], *, follow: bool = False, idle_ms: int = 500
    ) -> AsyncIterator[Record]:
        """Records from each start offset, in order per partition: up to the end offsets as of now, or (with
        `follow`) on until the caller stops iterating."""
        if not starts:
            return
        ends = await self.end_offsets(starts)
        pending = {tp for tp, offset in starts.items() if offset < ends[tp]}
        if not pending and not follow:
            return
        consumer = self.reader()
        await consumer.start()
        try:
            consumer.assign(list(starts))
            for tp, offset in starts.items():
                consumer.seek(tp, offset)
            while follow or pending:
                batches = await consumer.getmany(timeout_ms=idle_ms, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        if follow or record.offset < ends[tp]:
                            yield Record.of(record, self.prefix)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
        finally:
            await consumer.stop()

    async def ensure_topic(self, name: str, config: dict[str, str], partitions: int = 1) -> None:
        if name not in await self.existing():
            await self.admin.create_topics([NewTopic(self.full(name), partitions, 1, topic_configs=config)])
            await asyncio.sleep(0.5)  # let the new topic's leader settle before the first send


async def producer(bootstrap: str) -> AIOKafkaProducer:
    """Idempotent, acks=all (as the services' relays)."""
    made = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=TIMEOUT_MS
    )
    await made.start()
    return made
