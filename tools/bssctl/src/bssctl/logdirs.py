"""Bytes on disk per topic partition: Kafka's DescribeLogDirs (API 35), which aiokafka's admin client lacks.

Only version 1 (not a flexible version: plain arrays and strings), which brokers from 1.1 to 4.x answer. It goes
through aiokafka's connection with `AIOKafkaAdminClient._send_request`, the one private call in bssctl (aiokafka is
pinned by uv.lock; the `topics` test fails if this breaks).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int16, Int32, Int64, Schema, String


class DescribeLogDirsResponse_v1(Response):  # type: ignore[misc]  # aiokafka has no type information
    API_KEY = 35
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            Array(
                ("error_code", Int16),
                ("log_dir", String("utf-8")),
                (
                    "topics",
                    Array(
                        ("name", String("utf-8")),
                        (
                            "partitions",
                            Array(
                                ("partition_index", Int32),
                                ("partition_size", Int64),
                                ("offset_lag", Int64),
                                ("is_future_key", Boolean),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    )


class DescribeLogDirsRequest_v1(RequestStruct):  # type: ignore[misc]
    API_KEY = 35
    API_VERSION = 1
    RESPONSE_TYPE = DescribeLogDirsResponse_v1
    SCHEMA = Schema(("topics", Array(("topic", String("utf-8")), ("partitions", Array(Int32)))))


class DescribeLogDirsRequest(Request[DescribeLogDirsRequest_v1]):  # type: ignore[misc]
    API_KEY = 35

    def __init__(self, topics: list[tuple[str, list[int]]]) -> None:
        self._topics = topics

    def build(self, request_struct_class: type[DescribeLogDirsRequest_v1]) -> DescribeLogDirsRequest_v1:
        return request_struct_class(self._topics)


async def sizes(admin: AIOKafkaAdminClient, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """Bytes of each partition's log: asked of every broker, the largest replica counts (a partition has the
    same log on each of its replicas; a replica being moved to another directory, a "future" one, is left out)."""
    by_topic: dict[str, list[int]] = {}
    for tp in tps:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    if not by_topic:
        return {}
    request = DescribeLogDirsRequest(list(by_topic.items()))
    found: dict[TopicPartition, int] = {}
    for broker in (await admin.describe_cluster())["brokers"]:
        response = await admin._send_request(request, broker["node_id"])
        for result in response.to_object()["results"]:
            for topic in result["topics"]:
                for p in topic["partitions"]:
                    if not p["is_future_key"]:
                        tp = TopicPartition(topic["name"], p["partition_index"])
                        found[tp] = max(found.get(tp, 0), p["partition_size"])
    return found
