"""`bssctl tail --follow` on bss.radius.session keeps up with radius-ingest's benchmarked rate.

The bench (docs/radius-ingest.md) measured radius-ingest producing 13,169 session events per second. Here
40,000 session envelopes are on the topic; `bssctl tail --follow` reads them from the beginning into a file, and
its rate is the records over the time it took less the time to start and print one: what it can read, which must
exceed what radius-ingest can write (as lines; the rate as JSON is printed too). Printed with `-s`.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from bss_contracts import Envelope, topics
from bss_contracts.events.radius import SessionStopped

from .support import Bssctl

pytestmark = pytest.mark.timeout(180)

RADIUS_BENCH_RATE = 13_169  # session events per second, docs/radius-ingest.md
RECORDS = 40_000


def _records() -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    now = datetime.now(UTC)
    made = []
    for i in range(RECORDS):
        event = SessionStopped(
            session_key=f"nas-1:{i:08x}",
            acct_session_id=f"{i:08x}",
            username=f"user{i % 5000}@isp",
            nas_id="nas-1",
            nas_ip_address="10.0.0.1",
            nas_port=i,
            calling_station_id="AA-BB-CC-DD-EE-FF",
            framed_ip_address="100.64.0.1",
            event_time=now,
            session_start_time=now - timedelta(hours=1),
            session_time_seconds=3600,
            input_octets=123_456_789_012,
            output_octets=987_654_321,
        )
        envelope = Envelope.wrap(event, source="/services/radius-ingest", tenant_id="isp-rate")
        headers = [(k, v.encode()) for k, v in envelope.headers().items()]
        made.append((envelope.model_dump_json().encode(), envelope.subject.encode(), headers))
    return made


@pytest.mark.serial
async def test_tail_follow_reads_faster_than_radius_ingest_produces(bssctl: Bssctl, kafka_bootstrap: str, prefix: str):
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=10, max_batch_size=256 * 1024)
    await producer.start()
    try:
        sends = [
            await producer.send(prefix + topics.SESSIONS.name, value, key=key, headers=headers)
            for value, key, headers in _records()
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()

    # Its capacity: the time to print them all less the time to start and print one, output to a file.
    rates = {}
    for mode in ("lines", "json"):
        seconds = {}
        for limit in (1, RECORDS):
            with tempfile.TemporaryFile() as out:
                args = ["tail", topics.SESSIONS.name, "--from-beginning", "--follow", "--limit", str(limit)]
                started = time.perf_counter()
                process = await bssctl.start(*args, *(["--json"] if mode == "json" else []), stdout=out)
                assert await asyncio.wait_for(process.wait(), 120) == 0
                seconds[limit] = time.perf_counter() - started
                out.seek(0)
                printed = out.read().decode().splitlines()
            assert len(printed) == limit
        if mode == "json":
            assert json.loads(printed[-1])["envelope"]["type"] == SessionStopped.event_type
        else:
            assert f" {SessionStopped.event_type} tenant=isp-rate " in printed[-1]
        rates[mode] = (RECORDS - 1) / (seconds[RECORDS] - seconds[1])
    print(
        f"\nbssctl tail --follow read {RECORDS} session envelopes at {rates['lines']:,.0f}/s as lines, "
        f"{rates['json']:,.0f}/s as JSON (radius-ingest bench: {RADIUS_BENCH_RATE:,}/s)"
    )
    assert rates["lines"] > RADIUS_BENCH_RATE
