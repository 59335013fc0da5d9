"""`bssctl trace ID`: every event that belongs to a business flow, as a causation tree.

ID may be an event id, a correlation id, or an aggregate id (invoice, subscriber, customer...). Two passes over
every registry topic since `--since`:
1. the seeds: events whose id, correlation id or subject is ID, or whose payload holds ID as a value;
2. the flow: every event whose correlation id is one of the seeds' correlation ids.
Each event hangs under the event its causation id names (when that event is in the flow); the others are roots.
Siblings are in time order. A flow can have several roots: dunning's scheduled steps carry the flow's correlation
id but no causation (the clock, not an event, ran them), so a suspension request starts a tree of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bss_contracts import RawEnvelope
from bss_contracts.topics import ALL_TOPICS
from bssctl.inventory import BadInput
from bssctl.kafka import Cluster, Record


def _holds(envelope: RawEnvelope, ident: str) -> bool:
    if ident in (str(envelope.id), str(envelope.correlation_id), envelope.subject):
        return True
    return any(str(v) == ident for v in envelope.data.values() if isinstance(v, str | int))


async def _scan(cluster: Cluster, since: datetime) -> list[Record]:
    existing = await cluster.existing()
    records = []
    for topic in ALL_TOPICS:
        if topic.name not in existing:
            continue
        tps = await cluster.partitions(topic.name)
        records.extend([r async for r in cluster.read(await cluster.offsets_at(tps, since)) if r.envelope])
    return records


async def trace(cluster: Cluster, ident: str, since: datetime, tenant: str | None = None) -> list[dict[str, Any]]:
    """The flow of `ident`; with `tenant`, only that tenant's events are seeds or members of the flow."""
    records = await _scan(cluster, since)
    if tenant is not None:
        records = [r for r in records if r.envelope is not None and r.envelope.tenant_id == tenant]
    needle = ident.encode()
    seeds = [r for r in records if needle in r.value and r.envelope is not None and _holds(r.envelope, ident)]
    if not seeds:
        raise BadInput(
            f"no event with id, correlation id, subject or payload value {ident!r} since {since:%Y-%m-%d %H:%M}"
        )
    flows = {str(r.envelope.correlation_id) for r in seeds if r.envelope is not None}
    flow = [r for r in records if r.envelope is not None and str(r.envelope.correlation_id) in flows]
    return tree(flow)


def tree(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Nested nodes `{event..., "caused": [...]}`; a duplicate of an event (same id) is shown once."""
    nodes: dict[str, dict[str, Any]] = {}
    for r in sorted(records, key=lambda r: (r.envelope.time if r.envelope else r.timestamp, r.offset)):
        env = r.envelope
        assert env is not None
        nodes.setdefault(
            str(env.id),
            {
                "id": str(env.id),
                "type": env.type,
                "time": env.time.isoformat(),
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "tenant_id": env.tenant_id,
                "subject": env.subject,
                "correlation_id": str(env.correlation_id),
                "causation_id": str(env.causation_id) if env.causation_id else None,
                "caused": [],
            },
        )
    roots = []
    for node in nodes.values():
        parent = nodes.get(node["causation_id"] or "")
        if parent is not None and parent is not node:
            parent["caused"].append(node)
        else:
            roots.append(node)
    return roots


def render(roots: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []

    def walk(node: dict[str, Any], lead: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        note = ""
        if top and node["causation_id"] is not None:
            note = f"  (caused by {node['causation_id']}, not found since --since)"
        elif top and node is not roots[0]:
            note = "  (same flow, no causing event: a scheduled step or a request)"
        lines.append(
            f"{lead}{branch}{node['type']}  {node['time']}  {node['topic']}[{node['partition']}@{node['offset']}]  "
            f"subject={node['subject']} id={node['id']}{note}"
        )
        child_lead = lead if top else lead + ("   " if last else "│  ")
        for i, child in enumerate(node["caused"]):
            walk(child, child_lead, i == len(node["caused"]) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    return lines
