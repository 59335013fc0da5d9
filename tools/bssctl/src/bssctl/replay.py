"""`bssctl replay`: move a service's consumer group back (or forward) to a point in time.

Each partition of the topics the group consumes is set to its first offset at or after the time (its end
offset if nothing is that recent). Refused while the group has members: offsets committed under a running
consumer would be overwritten by its next commit, and the broker rejects commits for an active group anyway.
Replaying is safe for the services: events they already applied are skipped by their processed-event records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer

from bssctl import inventory
from bssctl.inventory import BadInput
from bssctl.kafka import TIMEOUT_MS, Cluster


async def replay(cluster: Cluster, group: inventory.Group, at: datetime, *, dry_run: bool) -> list[dict[str, Any]]:
    state = await cluster.group(group.name)
    if state.members:
        raise BadInput(
            f"refused: group {cluster.group_id(group.name)!r} has {len(state.members)} active member(s) "
            f"({', '.join(sorted(set(state.members)))}); stop the {group.service.value} service, then replay"
        )
    existing = await cluster.existing()
    tps = [tp for t in group.topics if t.name in existing for tp in await cluster.partitions(t.name)]
    if not tps:
        raise BadInput(f"none of the topics of group {group.name!r} exist under prefix {cluster.prefix!r}")
    committed = await cluster.committed(group.name)
    targets = await cluster.offsets_at(tps, at)
    plan = [
        {
            "group": group.name,
            "topic": tp.topic.removeprefix(cluster.prefix),
            "partition": tp.partition,
            "committed": committed.get(tp),
            "new": offset,
        }
        for tp, offset in sorted(targets.items())
    ]
    if not dry_run:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=cluster.bootstrap,
            group_id=cluster.group_id(group.name),
            enable_auto_commit=False,
            request_timeout_ms=TIMEOUT_MS,
        )
        await consumer.start()
        try:
            consumer.assign(list(targets))
            await consumer.commit(targets)
        finally:
            await consumer.stop()
    return plan
