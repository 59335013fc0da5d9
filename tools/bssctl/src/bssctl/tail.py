"""`bssctl tail`: a topic's records decoded as envelopes, filtered, one line each (or one JSON object each).

Where to start: `--from-beginning`, `--since 10m` (the first record at or after that time, per partition),
`--offset P:O` (partition P only, from offset O), or by default the last 10 records of each partition.
Without `--follow` it stops at the end offsets it found when it started.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from aiokafka import TopicPartition

from bssctl.inventory import BadInput
from bssctl.kafka import Cluster, Record

DEFAULT_LAST = 10


@dataclass(frozen=True)
class Filters:
    type: str | None = None
    tenant: str | None = None
    key: str | None = None

    def match(self, record: Record) -> bool:
        env = record.envelope
        if self.type is not None and (env is None or env.type != self.type):
            return False
        if self.tenant is not None and (env is None or env.tenant_id != self.tenant):
            return False
        return self.key is None or record.key == self.key


def parse_offset(value: str) -> tuple[int, int]:
    partition, sep, offset = value.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise BadInput(f"bad --offset {value!r}: give PARTITION:OFFSET, e.g. 3:1200")
    return int(partition), int(offset)


async def starts(
    cluster: Cluster,
    topic: str,
    *,
    from_beginning: bool = False,
    since: datetime | None = None,
    offset: tuple[int, int] | None = None,
) -> dict[TopicPartition, int]:
    if sum((from_beginning, since is not None, offset is not None)) > 1:
        raise BadInput("give at most one of --from-beginning, --since, --offset")
    tps = await cluster.partitions(topic)
    if offset is not None:
        partition, position = offset
        chosen = [tp for tp in tps if tp.partition == partition]
        if not chosen:
            raise BadInput(f"{topic} has no partition {partition} (it has 0..{len(tps) - 1})")
        return {chosen[0]: position}
    if from_beginning:
        return await cluster.beginning_offsets(tps)
    if since is not None:
        return await cluster.offsets_at(tps, since)
    begins, ends = await cluster.beginning_offsets(tps), await cluster.end_offsets(tps)
    return {tp: max(begins[tp], ends[tp] - DEFAULT_LAST) for tp in tps}


async def tail(
    cluster: Cluster,
    topic: str,
    begin: dict[TopicPartition, int],
    filters: Filters,
    *,
    follow: bool = False,
    limit: int | None = None,
) -> AsyncIterator[list[Record]]:
    """The matching records, a fetched batch at a time (so that a follower flushes its output once a batch)."""
    left = limit
    async for batch in cluster.read_batches(begin, follow=follow):
        matching = [r for r in batch if filters.match(r)]
        if left is not None:
            matching = matching[:left]
            left -= len(matching)
        if matching:
            yield matching
        if left is not None and left <= 0:
            return


def line(record: Record) -> str:
    where = f"{record.topic}[{record.partition}@{record.offset}]"
    env = record.envelope
    if env is None:
        head = f"{record.timestamp.isoformat()} {where} key={record.key}"
        return f"{head} UNDECODABLE ({record.error}) value={record.value[:200]!r}"
    cause = f" cause={env.causation_id}" if env.causation_id else ""
    data = json.dumps(env.data, separators=(",", ":"), default=str)
    return (
        f"{env.time.isoformat()} {where} {env.type} tenant={env.tenant_id} subject={env.subject} id={env.id} "
        f"corr={env.correlation_id}{cause} data={data}"
    )
