"""The whole system under faults: a steady load of HTTP writes (through the gateway) and RADIUS accounting (from
radclient) while every service, the broker and PostgreSQL are SIGKILLed one after another and restarted.

It runs a stack of its own (`bss_testkit.system`: its own PostgreSQL cluster, Kafka broker, five services, mail
catcher and gateway, started by the project's deploy/local scripts), so killing its parts touches nothing else.
Then every accepted request must be present exactly once in the service that owns it and in reporting, no request
of unknown outcome twice, and every dead-letter topic empty.

The figures (requests sent and accepted, faults, recovery times, lost, duplicated, dead letters) are printed and
written to `bench/results/faults.json`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import asyncpg
import httpx
import pytest

from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.settings import ServiceSettings
from bss_testkit.load import STOPPED_SESSIONS, Load, counts, dead_letters, eventually, http_writer, nas
from bss_testkit.system import ROOT, SERVICES, Stack, local_stack

pytestmark = pytest.mark.timeout(1200)
TENANT = "faults-isp"
SECRET = "faults-nas-secret"
WARM_UP, DOWN, AFTER = 8.0, 2.0, 6.0  # seconds of load before the first fault, of each outage, after each restart
CUSTOMERS = ("owner customers", "reporting customers")  # where an accepted request must be, once
SESSIONS = ("owner sessions", "reporting sessions")  # (the owner of a RADIUS session: radius-ingest's tracker)
RECOVER, CONVERGE = 90.0, 240.0  # seconds to wait for the first accepted request after a restart, for reporting


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with local_stack() as running:
        yield running


async def test_every_accepted_request_survives_each_part_being_killed_under_load(stack: Stack) -> None:
    token = issue_token(JwtConfig(ServiceSettings().jwt_secret), subject="faults", tenant_id=TENANT, roles=["admin"])
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as http:
        nas_client = {"nas_id": "bng-faults", "address": "127.0.0.1", "secret": SECRET}
        created = await http.post("/radius/nas-clients", json=nas_client, headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.text
    load, stop = Load(), asyncio.Event()
    workers = [asyncio.create_task(http_writer(stack, token, load, stop)) for _ in range(2)]
    workers += [asyncio.create_task(nas(stack, load, stop, SECRET)) for _ in range(4)]
    faults: list[dict[str, Any]] = []

    async def both_accepted_since(moment: float) -> bool:
        return min(load.last_http_ok, load.last_radius_ok) > moment

    try:
        started = time.monotonic()  # the NAS client is picked up by radius-ingest's workers within seconds
        while not (load.accepted_customers and load.started_sessions) and time.monotonic() - started < 90:
            for worker in workers:
                if worker.done():
                    worker.result()  # raises what stopped it
            await asyncio.sleep(0.5)
        assert load.accepted_customers and load.started_sessions, "no load got through before the first fault"
        await asyncio.sleep(WARM_UP)
        for target in (*SERVICES, "kafka", "postgres"):
            killed = time.monotonic()
            stack.kill(target)
            await asyncio.sleep(DOWN)
            await stack.restart(target)
            restarted = time.monotonic()
            await eventually(partial(both_accepted_since, restarted), RECOVER, every=0.1)
            recovered = min(load.last_http_ok, load.last_radius_ok)
            assert recovered > restarted, f"no HTTP write or RADIUS packet accepted {RECOVER} s after {target}"
            await asyncio.sleep(AFTER)
            faults.append({"target": target, "restart_s": round(restarted - killed, 1),
                           "recovered_s": round(recovered - killed, 1)})  # fmt: skip
    finally:
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
    for worker in workers:
        worker.result()  # a load task that failed (not an outage: a wrong answer) fails the test

    customers = sorted(load.accepted_customers | load.unknown_customers)
    sessions = sorted(set(load.accepted_sessions) | load.started_sessions | load.unknown_sessions)
    by_email = "SELECT email, count(*)::int FROM {} WHERE tenant_id = $1 AND email = ANY($2) GROUP BY email"
    by_user = "SELECT username, count(*)::int FROM {} WHERE tenant_id = $1 AND username = ANY($2) GROUP BY username"
    seen: dict[str, dict[str, int]] = {}

    async def converged() -> bool:
        seen["owner customers"] = await counts(
            stack.pg_url("customers"), by_email.format("customers"), TENANT, customers
        )
        seen["reporting customers"] = await counts(
            stack.pg_url("reporting"), by_email.format("readmodel.customers"), TENANT, customers
        )
        seen["owner sessions"] = await counts(
            stack.pg_url("radius_ingest"), by_user.format("sessions"), TENANT, sessions
        )
        seen["reporting sessions"] = await counts(
            stack.pg_url("reporting"), by_user.format("readmodel.sessions"), TENANT, sessions
        )
        if not all(e in seen[place] for place in CUSTOMERS for e in load.accepted_customers) or not all(
            u in seen[place] for place in SESSIONS for u in load.accepted_sessions
        ):
            return False
        # a session's row appears with its Start: converged once every accepted Stop is applied too
        stopped = await counts(stack.pg_url("reporting"), STOPPED_SESSIONS, TENANT, list(load.accepted_sessions))
        return len(stopped) == len(load.accepted_sessions)

    waited = time.monotonic()
    await eventually(converged, CONVERGE)
    converge_s = time.monotonic() - waited
    connection = await asyncpg.connect(stack.pg_url("reporting"))
    try:
        rows = await connection.fetch(
            "SELECT username, stop_source, input_octets, output_octets FROM readmodel.sessions "
            "WHERE tenant_id = $1 AND username = ANY($2)",
            TENANT,
            list(load.accepted_sessions),
        )
    finally:
        await connection.close()
    wrong_sessions = {
        r["username"]
        for r in rows
        if (r["stop_source"], (r["input_octets"], r["output_octets"]))
        != ("stop", load.accepted_sessions[r["username"]])
    }
    dlq = await dead_letters(stack.kafka_bootstrap)

    lost = {place: sorted(load.accepted_customers - set(seen[place])) for place in CUSTOMERS} | {
        place: sorted(set(load.accepted_sessions) - set(seen[place])) for place in SESSIONS
    }
    duplicated = {place: sorted(k for k, n in found.items() if n > 1) for place, found in seen.items()}
    figures = {
        "http_sent": load.http_sent,
        "http_accepted": len(load.accepted_customers),
        "http_unknown": len(load.unknown_customers),
        "radius_packets_sent": load.radius_sent,
        "sessions_accepted": len(load.accepted_sessions),
        "sessions_unknown": len(load.unknown_sessions),
        "faults": faults,
        "converged_after_s": round(converge_s, 1),
        "lost": {k: len(v) for k, v in lost.items()},
        "duplicated": {k: len(v) for k, v in duplicated.items()},
        "wrong_session_counters": len(wrong_sessions),
        "dead_letters": sum(dlq.values()),
    }
    print("\n" + json.dumps(figures, indent=2))
    results = ROOT / "bench/results"
    results.mkdir(exist_ok=True)
    (results / "faults.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert not any(lost.values()), lost
    assert not any(duplicated.values()), duplicated
    assert not wrong_sessions, sorted(wrong_sessions)[:10]
    assert not any(dlq.values()), dlq
    assert len(load.accepted_customers) > 50 and len(load.accepted_sessions) > 50, figures
