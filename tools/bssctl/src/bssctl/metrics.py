"""`bssctl metrics`: the facts of `lag`, `topics` and `outbox` in the Prometheus text format, in one place.

Printed once (for node_exporter's textfile collector or a cron job), or served on `--serve PORT` (any GET path,
computed afresh for each scrape), so that alert rules can use:

  bss_consumer_lag{group,topic,partition}                    records the group has not consumed
  bss_consumer_oldest_unconsumed_age_seconds{group,topic,partition}   age of the oldest of them (0 if none)
  bss_consumer_group_members{group}                          0: nobody is consuming
  bss_dlq_depth{topic}                                       records on the topic's dead-letter twin
  bss_outbox_backlog{service}, bss_outbox_oldest_unsent_age_seconds{service}   for services whose
                                                             <SERVICE>_DATABASE_URL is set; bss_outbox_up 0 if
                                                             that database did not answer
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from bss_contracts.topics import ALL_TOPICS, Service
from bssctl import outbox
from bssctl.kafka import Cluster
from bssctl.lag import lag

HELP = {
    "bss_consumer_lag": ("gauge", "Records a consumer group has not consumed yet"),
    "bss_consumer_oldest_unconsumed_age_seconds": ("gauge", "Age of the oldest unconsumed record (0 if none)"),
    "bss_consumer_group_members": ("gauge", "Members of the consumer group (0: nobody consumes)"),
    "bss_dlq_depth": ("gauge", "Records on the topic's dead-letter topic"),
    "bss_outbox_backlog": ("gauge", "Outbox rows not yet published"),
    "bss_outbox_oldest_unsent_age_seconds": ("gauge", "Age of the oldest unpublished outbox row (0 if none)"),
    "bss_outbox_up": ("gauge", "1 if the service's database answered"),
}


def _labels(**labels: str | int) -> str:
    def escape(value: str | int) -> str:
        return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


async def samples(cluster: Cluster) -> dict[str, list[tuple[str, float]]]:
    found: dict[str, list[tuple[str, float]]] = {name: [] for name in HELP}
    for summary, partitions in await lag(cluster, None):
        found["bss_consumer_group_members"].append((_labels(group=summary["group"]), summary["members"]))
        for p in partitions:
            where = _labels(group=p.group, topic=p.topic, partition=p.partition)
            found["bss_consumer_lag"].append((where, p.lag))
            found["bss_consumer_oldest_unconsumed_age_seconds"].append((where, p.oldest_age_s or 0.0))
    existing = await cluster.existing()
    for topic in ALL_TOPICS:
        if topic.dead_letter in existing:
            tps = await cluster.partitions(topic.dead_letter)
            begins, ends = await cluster.beginning_offsets(tps), await cluster.end_offsets(tps)
            depth = sum(ends[tp] - begins[tp] for tp in tps)
            found["bss_dlq_depth"].append((_labels(topic=topic.name), depth))
    for service in Service:
        if not os.environ.get(outbox.url_variable(service)):
            continue
        where = _labels(service=service.value)
        try:
            row = await outbox.backlog(service)
        except Exception:  # unreachable, refused, no outbox table: the database is not usable
            found["bss_outbox_up"].append((where, 0))
            continue
        found["bss_outbox_up"].append((where, 1))
        found["bss_outbox_backlog"].append((where, row["backlog"]))
        found["bss_outbox_oldest_unsent_age_seconds"].append((where, row["oldest_age_s"] or 0.0))
    return found


def exposition(found: dict[str, list[tuple[str, float]]]) -> str:
    lines = []
    for name, values in found.items():
        if not values:
            continue
        kind, text = HELP[name]
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{labels} {value:g}" for labels, value in values]
    return "\n".join(lines) + "\n"


async def serve(bootstrap: str, prefix: str, group_prefix: str | None, port: int, host: str = "127.0.0.1") -> None:
    """Answer every HTTP request with the metrics as of that request, until interrupted."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            try:
                async with Cluster(bootstrap, prefix, group_prefix) as cluster:
                    body, status = exposition(await samples(cluster)).encode(), "200 OK"
            except Exception as exc:
                body, status = f"bssctl: {type(exc).__name__}: {exc}\n".encode(), "503 Service Unavailable"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, host, port)
    async with server:
        await server.serve_forever()
