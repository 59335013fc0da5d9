"""The benchmark's packet set: realistic accounting traffic of many NAS and sessions, generated once.

Each session sends Start, a few Interim-Updates (every 5 minutes) and a Stop; sessions start at random
moments of a busy hour, so the packets of thousands of sessions interleave as they would on a BRAS. Counters
grow past 2^32 in a fraction of the sessions (gigawords > 0). Attribute codes come from the FreeRADIUS
dictionaries (the same loader the service uses).

Bodies (attributes) are stored unsigned: the load generator picks the Identifier at send time and computes
the Request Authenticator then (RFC 2866 §3), as a NAS does.
"""

from __future__ import annotations

import pickle
import random
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from radius_ingest.protocol.dictionary import RadiusDictionary

BASE_TIME = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600


@dataclass
class Nas:
    source_ip: str  # loopback address the generator sends from (one per NAS)
    nas_ip: str  # NAS-IP-Address
    identifier: str
    secret: bytes


@dataclass
class PacketSet:
    nas: list[Nas]
    bodies: list[list[bytes]]  # per NAS, in send order: the attributes of each Accounting-Request
    kinds: dict[str, int]  # how many of each Acct-Status-Type
    sessions: int
    gigaword_sessions: int

    @property
    def total(self) -> int:
        return sum(len(b) for b in self.bodies)

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def load(path: Path) -> PacketSet:
        loaded: PacketSet = pickle.loads(path.read_bytes())
        return loaded


class Encoder:
    def __init__(self, dictionary: RadiusDictionary) -> None:
        self.d = dictionary

    def attr(self, name: str, value: object) -> bytes:
        spec = self.d.by_name[name]
        if spec.type in ("integer", "date"):
            if isinstance(value, str):
                value = self.d.value_code(name, value)
            raw = struct.pack(">I", value)
        elif spec.type == "ipaddr":
            raw = socket.inet_aton(str(value))
        elif spec.type == "ipv6prefix":
            address, length = str(value).split("/")
            raw = bytes((0, int(length))) + socket.inet_pton(socket.AF_INET6, address)[: (int(length) + 7) // 8]
        else:
            raw = str(value).encode()
        return bytes((spec.code, len(raw) + 2)) + raw


def build(total_packets: int, nas_count: int = 20, seed: int = 7) -> PacketSet:
    rng = random.Random(seed)
    enc = Encoder(RadiusDictionary.load())
    nas = [
        Nas(
            f"127.0.1.{i + 1}",
            f"10.255.{i // 250}.{i % 250 + 1}",
            f"bras-{i + 1:03d}",
            f"bench-secret-{i + 1}".encode(),
        )
        for i in range(nas_count)
    ]
    timeline: list[tuple[int, int, bytes, str]] = []  # (time, nas index, body, kind)
    kinds = {"Start": 0, "Interim-Update": 0, "Stop": 0}
    sessions = gigaword_sessions = 0
    while len(timeline) < total_packets:
        sessions += 1
        n = rng.randrange(nas_count)
        user = f"sub{rng.randrange(1_000_000):06d}@isp.example"
        sid = f"{sessions:08X}"
        port = rng.randrange(1, 65535)
        start = BASE_TIME + rng.randrange(HOUR)
        interims = rng.choice((1, 2, 3, 3, 4, 5))
        big = rng.random() < 0.2  # a fifth of the sessions move more than 4 GiB
        if big:
            gigaword_sessions += 1
        rate_in = rng.randrange(50_000, 2_000_000) * (40 if big else 1)
        rate_out = rng.randrange(10_000, 200_000) * (10 if big else 1)
        ipv4 = f"100.{64 + rng.randrange(64)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        mac = ":".join(f"{rng.randrange(256):02x}" for _ in range(6))
        common = [
            enc.attr("User-Name", user),
            enc.attr("Acct-Session-Id", sid),
            enc.attr("NAS-IP-Address", nas[n].nas_ip),
            enc.attr("NAS-Identifier", nas[n].identifier),
            enc.attr("NAS-Port", port),
            enc.attr("NAS-Port-Id", f"ge-0/0/{port % 48}.{port}"),
            enc.attr("NAS-Port-Type", "Ethernet"),
            enc.attr("Service-Type", "Framed-User"),
            enc.attr("Framed-Protocol", "PPP"),
            enc.attr("Framed-IP-Address", ipv4),
            enc.attr("Calling-Station-Id", mac),
            enc.attr("Called-Station-Id", "bng-pool-1"),
            enc.attr("Acct-Authentic", "RADIUS"),
        ]
        if rng.random() < 0.5:
            v6 = f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}"
            common.append(enc.attr("Framed-IPv6-Prefix", f"{v6}::/64"))
            common.append(enc.attr("Delegated-IPv6-Prefix", f"2001:db8:{rng.randrange(65536):x}:ff00::/56"))
        steps = [("Start", 0)] + [("Interim-Update", 300 * (i + 1)) for i in range(interims)]
        steps.append(("Stop", 300 * interims + rng.randrange(1, 300)))
        for kind, elapsed in steps:
            in_bytes, out_bytes = rate_in * elapsed, rate_out * elapsed
            body = [
                *common,
                enc.attr("Acct-Status-Type", kind),
                enc.attr("Event-Timestamp", start + elapsed),
                enc.attr("Acct-Delay-Time", 0),
            ]
            if kind != "Start":
                body += [
                    enc.attr("Acct-Session-Time", elapsed),
                    enc.attr("Acct-Input-Octets", in_bytes & 0xFFFFFFFF),
                    enc.attr("Acct-Input-Gigawords", in_bytes >> 32),
                    enc.attr("Acct-Output-Octets", out_bytes & 0xFFFFFFFF),
                    enc.attr("Acct-Output-Gigawords", out_bytes >> 32),
                    enc.attr("Acct-Input-Packets", in_bytes // 1200),
                    enc.attr("Acct-Output-Packets", out_bytes // 600),
                ]
            if kind == "Stop":
                body.append(
                    enc.attr("Acct-Terminate-Cause", rng.choice(("User-Request", "Lost-Carrier", "Idle-Timeout")))
                )
            timeline.append((start + elapsed, n, b"".join(body), kind))
            kinds[kind] += 1
    timeline.sort(key=lambda item: item[0])
    bodies: list[list[bytes]] = [[] for _ in range(nas_count)]
    for _, n, attributes, _ in timeline:
        bodies[n].append(attributes)
    return PacketSet(nas, bodies, kinds, sessions, gigaword_sessions)
