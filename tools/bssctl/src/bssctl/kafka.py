"""The broker as bssctl sees it: topic metadata and configs, offsets, groups, and records read by range.

Reading never joins a consumer group (no group id, no commits): looking at a topic changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as RdTopicPartition
from pydantic import ValidationError

from bss_contracts import RawEnvelope
from bss_contracts.topics import ALL_TOPICS
from bss_runtime.kafka import consumer_group, replication
from bssctl.inventory import BadInput

TIMEOUT_MS = 10_000
log = logging.getLogger(__name__)


def _text(value: str | bytes | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


@dataclass(slots=True)
class Record:
    """One record with its envelope decoded (or why it could not be). Headers and the time are decoded when
    asked for: a follower printing lines needs neither, and it has to keep up with the producers."""

    topic: str  # without the deployment's prefix
    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    value: bytes
    envelope: RawEnvelope | None
    error: str | None
    message: Message | None = None
    _headers: dict[str, str] | None = None

    @classmethod
    def of(cls, message: Message, prefix: str) -> Record:
        """A librdkafka message (confluent-kafka), its value decoded as an envelope if it is one."""
        value: bytes = message.value() or b""
        key: bytes | None = message.key()
        envelope, error = None, None
        try:
            envelope = RawEnvelope.model_validate_json(value)
        except ValidationError as exc:
            error = f"not an envelope: {exc.error_count()} error(s), first: {exc.errors()[0]['msg']}"
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None  # set on every record
        key_text = key.decode(errors="replace") if key is not None else None
        return cls(
            topic.removeprefix(prefix),
            partition,
            offset,
            message.timestamp()[1],
            key_text,
            value,
            envelope,
            error,
            message,
        )

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            raw = (self.message.headers() if self.message is not None else None) or []
            self._headers = {k: _text(v) for k, v in (raw.items() if isinstance(raw, dict) else raw)}
        return self._headers

    def json_line(self) -> str:
        """`json.dumps(self.to_json())`, faster: a decoded envelope is copied as it is on the wire (it is the
        envelope's JSON already) instead of being serialised again."""
        if self.envelope is None or b"\n" in self.value:
            return json.dumps(self.to_json(), default=str)
        head = json.dumps({k: v for k, v in self.to_json_head().items()})
        return f'{head[:-1]}, "envelope": {self.value.decode()}}}'

    def to_json_head(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp.isoformat(),
            "key": self.key,
            "headers": self.headers,
        }

    def to_json(self) -> dict[str, Any]:
        out = self.to_json_head()
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
    """Admin client and a group-less consumer on one broker, with the deployment's topic prefix (and consumer
    group prefix; unset, the topic prefix stands in for it, as in the services)."""

    def __init__(self, bootstrap: str, prefix: str, group_prefix: str | None = None) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.group_prefix = group_prefix
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

    def group_id(self, name: str) -> str:
        """The broker's name of the consumer group a service calls `name`."""
        return consumer_group(self.group_prefix, self.prefix, name)

    async def group(self, name: str) -> GroupState:
        # One group per request: aiokafka 0.14 mis-decodes a response that describes several groups.
        [response] = await self.admin.describe_consumer_groups([self.group_id(name)])
        [described] = response.to_object()["groups"]
        return GroupState(described["state"], tuple(m["client_id"] for m in described["members"]))

    async def committed(self, group: str) -> dict[TopicPartition, int]:
        """The group's committed offsets on this deployment's registry topics (with an empty prefix, another
        deployment's prefixed topics on the same broker are not ours)."""
        offsets = await self.admin.list_consumer_group_offsets(self.group_id(group))
        ours = {self.full(t.name) for t in ALL_TOPICS}
        return {tp: meta.offset for tp, meta in offsets.items() if tp.topic in ours}

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

    async def read(self, starts: dict[TopicPartition, int], *, follow: bool = False) -> AsyncIterator[Record]:
        """Records from each start offset, in order per partition: up to the end offsets as of now, or (with
        `follow`) on until the caller stops iterating."""
        async for batch in self.read_batches(starts, follow=follow):
            for record in batch:
                yield record

    async def read_batches(
        self, starts: dict[TopicPartition, int], *, follow: bool = False, idle_s: float = 0.5
    ) -> AsyncIterator[list[Record]]:
        """As `read`, a fetched batch at a time (possibly empty while following an idle topic).

        Read with librdkafka (confluent-kafka), which decodes fetched records in C: twice aiokafka's rate, so
        that `tail --follow` keeps up with radius-ingest. It is assigned partitions, never joins its group."""
        if not starts:
            return
        ends = {(tp.topic, tp.partition): end for tp, end in (await self.end_offsets(starts)).items()}
        pending = {(tp.topic, tp.partition) for tp, offset in starts.items() if offset < ends[tp.topic, tp.partition]}
        if not pending and not follow:
            return
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "bssctl-reader",  # required by librdkafka; nothing joins or commits with it
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "logger": log,
            }
        )
        fetching: asyncio.Future[list[Message]] | None = None
        try:
            consumer.assign([RdTopicPartition(tp.topic, tp.partition, offset) for tp, offset in starts.items()])
            while follow or pending:
                batch = []
                fetching = asyncio.ensure_future(asyncio.to_thread(consumer.consume, 5000, idle_s))
                # Shielded: a Ctrl-C cancels this wait, not `fetching`, which stays pending until the thread's
                # consume() has returned (a cancelled `fetching` would look done while consume() still runs).
                for message in await asyncio.shield(fetching):
                    where = (message.topic(), message.partition())
                    if (error := message.error()) is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            raise KafkaException(error)
                        pending.discard(where)
                    elif follow or (message.offset() or 0) < ends[where]:
                        batch.append(Record.of(message, self.prefix))
                yield batch
        finally:
            # Interrupted (Ctrl-C) while a consume() runs in its thread: let it return first, as librdkafka
            # deadlocks on a close() during a consume().
            if fetching is not None and not fetching.done():
                with contextlib.suppress(BaseException):
                    await asyncio.shield(fetching)
            consumer.close()

    async def ensure_topic(self, name: str, config: dict[str, str], partitions: int = 1) -> None:
        if name not in await self.existing():
            copies = await replication(self.admin)  # as the services' topics: the registry's, as the cluster allows
            topic = NewTopic(self.full(name), partitions, copies.factor, topic_configs=config | copies.config())
            await self.admin.create_topics([topic])
            await asyncio.sleep(0.5)  # let the new topic's leader settle before the first send


async def producer(bootstrap: str) -> AIOKafkaProducer:
    """Idempotent, acks=all (as the services' relays)."""
    made = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=TIMEOUT_MS
    )
    await made.start()
    return made
