"""Backfill of FreeRADIUS `detail` files and `radacct` CSV exports: the same events as live traffic."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bss_contracts import topics
from bss_contracts.events.radius import NasAccountingOn, SessionStarted, SessionStopped, SessionUpdated
from bss_runtime.db import Database
from bss_runtime.migrations import upgrade
from bss_testkit.events import EventProbe
from radius_ingest.entrypoints.app import MIGRATIONS
from radius_ingest.service_layer.nas_clients import bootstrap

from .support import GIGA, client_entry

pytestmark = pytest.mark.timeout(180)

# As FreeRADIUS 3.2's detail module writes them: a date line, tab-indented attributes, a blank line.
DETAIL = """\
Thu Jan  1 00:00:00 2026
\tAcct-Session-Id = "D-0001"
\tUser-Name = "frank@isp.example"
\tAcct-Status-Type = Start
\tNAS-IP-Address = 10.20.0.1
\tNAS-Port = 12
\tNAS-Port-Type = Ethernet
\tFramed-IP-Address = 100.64.9.9
\tCalling-Station-Id = "aa:bb:cc:dd:ee:ff"
\tEvent-Timestamp = "Jan  1 2026 00:00:00 UTC"
\tAcct-Delay-Time = 0
\tPacket-Src-IP-Address = 127.0.0.1
\tAcct-Unique-Session-Id = "0f6c1b1e4d6a2f0c8b7d5e3a1c9f8e7d"
\tTimestamp = 1767225600

Thu Jan  1 00:10:03 2026
\tAcct-Session-Id = "D-0001"
\tUser-Name = "frank@isp.example"
\tAcct-Status-Type = Interim-Update
\tNAS-IP-Address = 10.20.0.1
\tNAS-Port = 12
\tAcct-Session-Time = 600
\tAcct-Input-Octets = 5
\tAcct-Input-Gigawords = 7
\tAcct-Output-Octets = 4294967295
\tAcct-Output-Gigawords = 0
\tAcct-Delay-Time = 3
\tPacket-Src-IP-Address = 127.0.0.1
\tTimestamp = 1767226203

Thu Jan  1 00:20:00 2026
\tAcct-Session-Id = "D-0001"
\tUser-Name = "frank@isp.example"
\tAcct-Status-Type = Stop
\tNAS-IP-Address = 10.20.0.1
\tNAS-Port = 12
\tAcct-Session-Time = 1200
\tAcct-Input-Octets = 9
\tAcct-Input-Gigawords = 8
\tAcct-Output-Octets = 1
\tAcct-Output-Gigawords = 1
\tAcct-Terminate-Cause = Idle-Timeout
\tEvent-Timestamp = "Jan  1 2026 00:20:00 UTC"
\tPacket-Src-IP-Address = 127.0.0.1
\tTimestamp = 1767226800

Thu Jan  1 01:00:00 2026
\tAcct-Status-Type = Accounting-On
\tNAS-IP-Address = 10.20.0.1
\tEvent-Timestamp = 1767229200
\tPacket-Src-IP-Address = 127.0.0.1
\tTimestamp = 1767229200

"""

# A radacct export (psql \\copy ... CSV HEADER) with 64-bit totals, one closed and one open session.
RADACCT = """\
radacctid,acctsessionid,acctuniqueid,username,realm,nasipaddress,nasportid,nasporttype,acctstarttime,acctupdatetime,acctstoptime,acctinterval,acctsessiontime,acctauthentic,connectinfo_start,connectinfo_stop,acctinputoctets,acctoutputoctets,calledstationid,callingstationid,acctterminatecause,servicetype,framedprotocol,framedipaddress,framedipv6address,framedipv6prefix,framedinterfaceid,delegatedipv6prefix,class
1,C-1,u1,grace@isp.example,,10.30.0.1,ge-1/0/0.5,Ethernet,2025-03-01 10:00:00+00,2025-03-01 11:00:00+00,2025-03-01 11:00:00+00,,3600,RADIUS,,,30064771077,8589934592,bng,00:00:00:00:00:01,User-Request,Framed-User,PPP,100.64.0.5,,2001:db8:5::/64,,2001:db8:ff05::/56,
2,C-2,u2,heidi@isp.example,,10.30.0.1,7,Ethernet,2025-03-01 10:30:00+00,2025-03-01 10:35:00+00,,,300,RADIUS,,,1000,2000,bng,00:00:00:00:00:02,,Framed-User,PPP,100.64.0.6,,,,,
"""  # noqa: E501


@pytest.fixture(scope="module")
async def database_url(fresh_database: Any, tmp_path_factory: Any) -> str:
    url = await fresh_database("radius_backfill")
    await asyncio.to_thread(upgrade, url, MIGRATIONS)
    clients = tmp_path_factory.mktemp("bf") / "clients.toml"
    clients.write_text(client_entry("acme", "bras-lo", "127.0.0.1"))
    database = Database(url)
    await bootstrap(database, clients)
    await database.close()
    return url


async def backfill(*args: str, database_url: str, bootstrap: str, prefix: str) -> str:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "radius_ingest.backfill", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_detail_files_become_the_same_events_and_import_twice_counts_once(
    database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{topic_prefix}backfill-detail."
    detail = tmp_path / "detail-20260101"
    detail.write_text(DETAIL)
    out = await backfill("detail", str(detail), database_url=database_url, bootstrap=kafka_bootstrap, prefix=prefix)
    assert "published=4" in out and "records=4" in out
    await backfill("detail", str(detail), database_url=database_url, bootstrap=kafka_bootstrap, prefix=prefix)

    async with EventProbe(kafka_bootstrap, prefix, topics.SESSIONS, topics.NAS) as probe:
        await probe.wait_for(lambda e: True, count=8)
        seen = await probe.settle(1.0)
    assert len(seen) == 8 and len({e.id for e in seen}) == 4  # the second import repeats the same ids
    by_type = {e.type: e for e in seen}
    assert all(e.tenant_id == "acme" and e.data["nas_id"] == "bras-lo" for e in seen)
    start = by_type[SessionStarted.event_type].parse_data(SessionStarted).data
    assert start.event_time.timestamp() == 1767225600 and start.nas_port_type == "Ethernet"
    assert (start.username, start.nas_ip_address, start.framed_ip_address) == (
        "frank@isp.example",
        "10.20.0.1",
        "100.64.9.9",
    )
    interim = by_type[SessionUpdated.event_type].parse_data(SessionUpdated).data
    assert interim.input_octets == 7 * GIGA + 5 and interim.output_octets == 4_294_967_295
    assert interim.event_time.timestamp() == 1767226203 - 3  # Timestamp minus Acct-Delay-Time
    stop = by_type[SessionStopped.event_type].parse_data(SessionStopped).data
    assert (stop.input_octets, stop.output_octets) == (8 * GIGA + 9, GIGA + 1)
    assert stop.terminate_cause == "Idle-Timeout" and stop.session_time_seconds == 1200
    assert len({start.session_key, interim.session_key, stop.session_key}) == 1
    nas_on = by_type[NasAccountingOn.event_type].parse_data(NasAccountingOn).data
    assert nas_on.event_time.timestamp() == 1767229200 and nas_on.nas_ip_address == "10.20.0.1"


async def test_radacct_csv_becomes_start_and_last_state(
    database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{topic_prefix}backfill-csv."
    export = tmp_path / "radacct.csv"
    export.write_text(RADACCT)
    out = await backfill("radacct", str(export), "--tenant", "globex", "--nas-id", "bng-7",
                         database_url=database_url, bootstrap=kafka_bootstrap, prefix=prefix)  # fmt: skip
    assert "published=4" in out

    async with EventProbe(kafka_bootstrap, prefix, topics.SESSIONS) as probe:
        seen = await probe.wait_for(lambda e: True, count=4)
    assert all(e.tenant_id == "globex" and e.data["nas_id"] == "bng-7" for e in seen)
    grace = sorted((e for e in seen if e.subject == "grace@isp.example"), key=lambda e: e.time)
    assert [e.type for e in grace] == [SessionStarted.event_type, SessionStopped.event_type]
    stop = grace[1].parse_data(SessionStopped).data
    assert (stop.input_octets, stop.output_octets) == (30_064_771_077, 8_589_934_592)  # exact 64-bit
    assert stop.terminate_cause == "User-Request" and stop.session_time_seconds == 3600
    assert stop.delegated_ipv6_prefix == "2001:db8:ff05::/56" and stop.nas_port_id == "ge-1/0/0.5"
    assert grace[0].data["event_time"].startswith("2025-03-01T10:00:00")
    heidi = sorted((e for e in seen if e.subject == "heidi@isp.example"), key=lambda e: e.time)
    assert [e.type for e in heidi] == [SessionStarted.event_type, SessionUpdated.event_type]
    assert heidi[1].data["input_octets"] == 1000 and heidi[1].data["event_time"].startswith("2025-03-01T10:35:00")
