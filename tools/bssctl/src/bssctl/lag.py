"""`bssctl lag`: per consumer group and partition, the committed offset, the end offset, the lag between
them and how old the oldest unconsumed record is (its broker timestamp).

A partition the group never committed on counts from the beginning of the partition (the services start
with `auto_offset_reset="earliest"`), so a group that has not read yet shows all of it as lag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bss_contracts.topics import Service
from bssctl import inventory
from bssctl.kafka import Cluster


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int
    oldest_age_s: float | None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


async def group_lag(cluster: Cluster, group: inventory.Group) -> tuple[dict[str, Any], list[PartitionLag]]:
    existing = await cluster.existing()
    tps = [tp for t in group.topics if t.name in existing for tp in await cluster.partitions(t.name)]
    committed = await cluster.committed(group.name)
    tps = sorted(set(tps) | set(committed))
    ends, begins = await cluster.end_offsets(tps), await cluster.beginning_offsets(tps)
    consumed_from = {tp: max(committed.get(tp, begins[tp]), begins[tp]) for tp in tps}
    lagging = {tp: offset for tp, offset in consumed_from.items() if offset < ends[tp]}
    oldest = await cluster.first_timestamps(lagging)
    now = datetime.now(UTC)
    rows = [
        PartitionLag(
            group=group.name,
            topic=tp.topic.removeprefix(cluster.prefix),
            partition=tp.partition,
            committed=committed.get(tp),
            end=ends[tp],
            lag=ends[tp] - consumed_from[tp],
            oldest_age_s=round((now - oldest[tp]).total_seconds(), 1) if tp in oldest else None,
        )
        for tp in tps
    ]
    state = await cluster.group(group.name)
    summary = {
        "group": group.name,
        "state": state.state,
        "members": len(state.members),
        "lag": sum(r.lag for r in rows),
        "oldest_age_s": max((r.oldest_age_s for r in rows if r.oldest_age_s is not None), default=None),
    }
    return summary, rows


async def lag(cluster: Cluster, service: Service | None) -> list[tuple[dict[str, Any], list[PartitionLag]]]:
    return [await group_lag(cluster, g) for g in inventory.groups(service)]
