"""Sessions with traffic: the NAS of each city register with radius-ingest, then send real RADIUS accounting
(Start, Interim-Updates, Stop) over UDP for every active line's sessions of the last days.

Each NAS sends from its own loopback address (127.x.y.z): radius-ingest knows a NAS by its source address.
Sessions are PPPoE-like: a line reconnects every day or two, most have one session open right now; traffic is
a few GB a day with heavy users above 100 GB, so that counters pass 4 GiB and Gigawords carry the overflow.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from demo.api import Api
from demo.dataset import HISTORY_WINDOW_DAYS, CustomerSpec
from demo.geography import COUNTRIES
from demo.radius import (
    INTERIM,
    START,
    STOP,
    NasClient,
    NasIdentity,
    Report,
    SessionIdentity,
    attributes_for,
)

SESSION_DAYS = min(4, HISTORY_WINDOW_DAYS)  # days of accounting sent: within every line's running billing cycle
INTERIM_INTERVAL = timedelta(hours=12)  # Acct-Interim-Interval the NAS uses (kept long: fewer packets)
MAX_INTERIMS = 2
GB = 10**9


def nas_fleet(generation: int) -> dict[str, NasIdentity]:
    """One BNG per city, keyed by "<country>/<city>"; addresses differ per demo tenant (generation)."""
    fleet = {}
    for c, country in enumerate(COUNTRIES):
        for i, city in enumerate(country.cities):
            slug = "".join(ch for ch in city.name.lower() if ch.isascii() and ch.isalpha())[:3]
            nas_id = f"bng-{country.code.lower()}-{slug}-01"
            address = ipaddress.IPv4Address(f"127.{20 + generation % 200}.{c + 1}.{i + 1}")
            fleet[f"{country.code}/{city.name}"] = NasIdentity(nas_id, nas_id, address, f"demo-{nas_id}".encode())
    return fleet


async def register_nas(api: Api, fleet: dict[str, NasIdentity]) -> None:
    for key, nas in fleet.items():
        await api.post(
            "/radius/nas-clients",
            {"nas_id": nas.nas_id, "address": str(nas.address), "secret": nas.secret.decode(),
             "description": f"BNG {key.replace('/', ', ')}"},
        )  # fmt: skip


@dataclass(frozen=True)
class Session:
    nas_key: str
    identity: SessionIdentity
    reports: tuple[Report, ...]


def _reports(start: datetime, end: datetime, ongoing: bool, now: datetime, rng: random.Random,
             heavy: bool) -> tuple[Report, ...]:  # fmt: skip
    """Start, Interim-Updates at the interim interval (the latest few), and Stop unless it goes on."""
    download_per_hour = rng.lognormvariate(-1.2, 0.8) * GB * (6 if heavy else 1)  # median ~0.3 GB/h
    upload_share = rng.uniform(0.06, 0.2)

    def counters(at: datetime) -> tuple[int, int, int]:
        seconds = int((at - start).total_seconds())
        down = int(download_per_hour * seconds / 3600)
        return seconds, int(down * upload_share), down

    reports = [Report(START, start, 0, 0, 0)]
    last = end if not ongoing else now
    ticks = []
    tick = start + INTERIM_INTERVAL
    while tick < last:
        ticks.append(tick)
        tick += INTERIM_INTERVAL
    for at in ticks[-MAX_INTERIMS:]:
        reports.append(Report(INTERIM, at, *counters(at)))
    if not ongoing:
        cause = rng.choices(("User-Request", "Lost-Carrier", "Idle-Timeout", "Session-Timeout", "NAS-Request"),
                            (30, 35, 10, 20, 5))[0]  # fmt: skip
        reports.append(Report(STOP, end, *counters(end), terminate_cause=cause))
    return tuple(reports)


def sessions_for(customers: list[CustomerSpec], now: datetime, seed: int) -> list[Session]:
    rng = random.Random(seed)
    sessions = []
    port = 0
    window = timedelta(days=SESSION_DAYS)
    for customer in customers:
        key = f"{customer.country.code}/{customer.city.name}"
        for line in customer.subscribers:
            if line.lifecycle != "active" or rng.random() < 0.06:  # a few lines were offline all along
                continue
            heavy = rng.random() < 0.05
            at = now - window + timedelta(minutes=rng.randint(0, 60 * 24))
            while at < now - timedelta(minutes=30):
                hours = min(rng.lognormvariate(3.9, 0.7), 24 * 7)  # median ~2 days
                end = at + timedelta(hours=hours)
                ongoing = end >= now - timedelta(minutes=5)
                port += 1
                framed = ipaddress.IPv4Address(int(ipaddress.IPv4Address("100.64.0.0")) + rng.randint(1, 2**22 - 2))
                delegated = ipaddress.IPv6Network(customer.body["ipv6_prefix"])
                identity = SessionIdentity(
                    username=line.username, acct_session_id=f"{rng.getrandbits(64):016X}", nas_port=port,
                    nas_port_id=f"0/{port % 8}/{port % 48}:{100 + port % 3000}", framed_ip=framed,
                    delegated_prefix=delegated, calling_station_id=line.mac.replace(":", "-").upper(),
                )  # fmt: skip
                sessions.append(Session(key, identity, _reports(at, end, ongoing, now, rng, heavy)))
                if ongoing:
                    break
                at = end + timedelta(seconds=rng.randint(5, 600))  # reconnects within minutes
    return sessions


async def send_sessions(sessions: list[Session], fleet: dict[str, NasIdentity], server: tuple[str, int],
                        *, in_flight: int = 64) -> dict[str, int]:  # fmt: skip
    """Each session's reports in order (the next after the previous was answered); sessions side by side."""
    clients = {key: NasClient(nas, server) for key, nas in fleet.items()}
    for client in clients.values():
        await client.open()
    slots = asyncio.Semaphore(in_flight)
    sent = 0
    started = time.monotonic()
    total = sum(len(s.reports) for s in sessions)

    async def play(session: Session) -> None:
        nonlocal sent
        client = clients[session.nas_key]
        async with slots:
            for report in session.reports:
                await client.send(attributes_for(client.nas, session.identity, report))
                sent += 1
                if sent % 3000 == 0:
                    print(f"    RADIUS packets: {sent}/{total}", flush=True)

    try:
        await asyncio.gather(*(play(s) for s in sessions))
    finally:
        for client in clients.values():
            client.close()
    elapsed = time.monotonic() - started
    print(f"    RADIUS packets: {sent} in {elapsed:.1f} s ({sent / max(elapsed, 0.001):.0f}/s)", flush=True)
    return {"packets": sent, "retransmissions": sum(c.retransmissions for c in clients.values())}


async def disconnect(sessions: list[Session], usernames: set[str], fleet: dict[str, NasIdentity],
                     server: tuple[str, int], now: datetime) -> int:  # fmt: skip
    """The NAS drops the open sessions of suspended lines (Stop, Admin-Reset), as a CoA/disconnect would."""
    clients = {key: NasClient(nas, server) for key, nas in fleet.items()}
    for client in clients.values():
        await client.open()
    stopped = 0

    async def stop(session: Session) -> None:
        nonlocal stopped
        last = session.reports[-1]
        seconds = int((now - session.reports[0].time).total_seconds())
        ratio = seconds / max(last.session_time, 1)
        report = Report(STOP, now, seconds, int(last.input_octets * ratio), int(last.output_octets * ratio),
                        terminate_cause="Admin-Reset")  # fmt: skip
        client = clients[session.nas_key]
        await client.send(attributes_for(client.nas, session.identity, report))
        stopped += 1

    open_ones = [s for s in sessions if s.reports[-1].status != STOP and s.identity.username in usernames]
    try:
        await asyncio.gather(*(stop(s) for s in open_ones))
    finally:
        for client in clients.values():
            client.close()
    return stopped
