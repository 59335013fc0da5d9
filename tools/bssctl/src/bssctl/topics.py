"""`bssctl topics`: every registry topic and its dead-letter twin as the registry declares it and the broker
keeps it: partitions, cleanup policy and retention (broker config), producer, consumers, record counts, bytes on
disk and end offsets."""

from __future__ import annotations

from typing import Any

from bss_contracts.topics import ALL_TOPICS, FOREVER, Topic
from bssctl import logdirs
from bssctl.kafka import Cluster


def retention(ms: str | int | None) -> str:
    if ms is None:
        return "-"
    value = int(ms)
    if value == FOREVER:
        return "forever"
    days, rest = divmod(value, 24 * 3600 * 1000)
    return f"{days}d" if rest == 0 else f"{value / 3_600_000:g}h"


def size(n: int) -> str:
    """Bytes for people: 512B, 1.5KiB, 230.0MiB, 12.3GiB."""
    if n < 1024:
        return f"{n}B"
    exponent = 1
    while exponent < 3 and n >= 1024 ** (exponent + 1):
        exponent += 1
    return f"{n / 1024**exponent:.1f}{('KiB', 'MiB', 'GiB')[exponent - 1]}"


async def _row(cluster: Cluster, name: str, topic: Topic, existing: set[str]) -> dict[str, Any]:
    dlq = name != topic.name
    row: dict[str, Any] = {
        "topic": name,
        "producer": "(dead letters)" if dlq else topic.producer.value,
        "consumers": [] if dlq else [c.value for c in topic.consumers],
        "registry": {
            "partitions": 1 if dlq else topic.partitions,
            "cleanup_policy": "delete" if dlq else ("compact" if topic.compacted else "delete"),
            "retention": retention(FOREVER if dlq else topic.retention_ms),
        },
        "exists": name in existing,
    }
    if not row["exists"]:
        return row
    tps = await cluster.partitions(name)
    config = await cluster.config(name)
    begins, ends = await cluster.beginning_offsets(tps), await cluster.end_offsets(tps)
    on_disk = await logdirs.sizes(cluster.admin, tps)
    row |= {
        "bytes": sum(on_disk.get(tp, 0) for tp in tps),
        "partitions": len(tps),
        "cleanup_policy": config.get("cleanup.policy"),
        "retention": retention(config.get("retention.ms")),
        "records": sum(ends[tp] - begins[tp] for tp in tps),
        "end_offsets": {tp.partition: ends[tp] for tp in tps},
    }
    return row


async def topics(cluster: Cluster) -> list[dict[str, Any]]:
    existing = await cluster.existing()
    rows = []
    for topic in ALL_TOPICS:
        for name in (topic.name, topic.dead_letter):
            rows.append(await _row(cluster, name, topic, existing))
    return rows


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flat columns of the human-readable table."""
    flat = []
    for r in rows:
        flat.append(
            {
                "topic": r["topic"],
                "parts": r.get("partitions", "missing"),
                "cleanup": r.get("cleanup_policy", r["registry"]["cleanup_policy"]),
                "retention": r.get("retention", r["registry"]["retention"]),
                "producer": r["producer"],
                "consumers": ",".join(r["consumers"]) or "-",
                "records": r.get("records", "-"),
                "size": size(r["bytes"]) if "bytes" in r else "-",
                "end offsets": " ".join(f"{p}:{o}" for p, o in r.get("end_offsets", {}).items()) or "-",
            }
        )
    return flat
