"""A fast RADIUS accounting load generator (radclient spends far more CPU per packet than the servers do).

One process, one UDP socket per NAS bound to that NAS's loopback address, an epoll loop, and a fixed window
of requests in flight per NAS (closed loop: a NAS sends its next request when one is answered). The
Identifier is chosen at send time and the Request Authenticator computed then, as a NAS does. Replies are
checked (Response Authenticator) before they count. A request with no reply within `timeout` is lost (no
retransmission: a lost packet is reported, not hidden).

It reports its own CPU time: when the generator's CPU share is well under one core while the server is
saturated, the generator is not the limit.
"""

from __future__ import annotations

import hashlib
import resource
import select
import socket
import time
from collections import deque
from dataclasses import dataclass

from packets import PacketSet

_ZERO16 = bytes(16)
_CODE_AND_ID = [bytes((4, identifier)) for identifier in range(256)]  # Accounting-Request, Identifier


@dataclass
class RunStats:
    target: str
    sent: int
    answered: int
    lost: int
    bad_replies: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    generator_cpu_seconds: float
    generator_cpu_share: float  # generator CPU time / wall time (1.0 = one core busy)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _NasLink:
    __slots__ = ("body", "free_ids", "length", "next", "outstanding", "secret", "signed_tail", "sock")

    def __init__(self, sock: socket.socket, secret: bytes, bodies: list[bytes]) -> None:
        self.sock = sock
        self.secret = secret
        self.body = bodies
        # Prepared before the clock starts: what does not depend on the Identifier chosen at send time.
        self.length = [(20 + len(body)).to_bytes(2, "big") for body in bodies]
        self.signed_tail = [_ZERO16 + body + secret for body in bodies]
        self.next = 0
        self.free_ids: deque[int] = deque(range(256))
        self.outstanding: dict[int, tuple[float, bytes]] = {}  # identifier -> (sent at, request authenticator)


def run(
    packet_set: PacketSet,
    host: str,
    port: int,
    *,
    window: int = 32,
    timeout: float = 5.0,
    rate: float | None = None,
    reply_times: list[float] | None = None,
) -> RunStats:
    """Send every request of `packet_set`; `rate` paces the sending to that many requests per second (open
    loop within the window), and `reply_times` collects the perf_counter() time of every verified reply."""
    poller = select.epoll()
    links: dict[int, _NasLink] = {}
    for nas, bodies in zip(packet_set.nas, packet_set.bodies, strict=True):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.bind((nas.source_ip, 0))
        sock.connect((host, port))
        sock.setblocking(False)
        links[sock.fileno()] = _NasLink(sock, nas.secret, bodies)
        poller.register(sock.fileno(), select.EPOLLIN)

    latencies: list[float] = []
    sent = lost = bad = 0
    md5 = hashlib.md5
    now = time.perf_counter

    paced_sent = 0

    def fill(link: _NasLink) -> int:
        nonlocal paced_sent
        count = 0
        bodies, outstanding, free_ids, send = link.body, link.outstanding, link.free_ids, link.sock.send
        total = len(bodies)
        while link.next < total and len(outstanding) < window and free_ids:
            if rate is not None:
                if paced_sent >= rate * (now() - started):
                    break
                paced_sent += 1
            i = link.next
            link.next = i + 1
            identifier = free_ids.popleft()
            header = _CODE_AND_ID[identifier] + link.length[i]
            authenticator = md5(header + link.signed_tail[i]).digest()
            send(header + authenticator + bodies[i])
            outstanding[identifier] = (now(), authenticator)
            count += 1
        return count

    cpu_start, started = _cpu(), now()
    for link in links.values():
        sent += fill(link)
    poll_seconds = 0.05 if rate is None else 0.001
    last_reply = started
    last_sweep = started
    remaining = sum(len(link.body) for link in links.values())
    while remaining > 0:
        if rate is not None:  # paced: top up every NAS as the clock allows
            for link in links.values():
                sent += fill(link)
        for fd, _ in poller.poll(poll_seconds):
            link = links[fd]
            while True:
                try:
                    reply = link.sock.recv(4096)
                except BlockingIOError:
                    break
                received = now()
                if len(reply) < 20:
                    bad += 1
                    continue
                entry = link.outstanding.get(reply[1])
                if entry is None:
                    bad += 1  # late reply to a request already counted lost, or garbage
                    continue
                check = md5(reply[:4] + entry[1] + reply[20:] + link.secret).digest()
                if reply[0] != 5 or check != reply[4:20]:
                    bad += 1
                    continue
                del link.outstanding[reply[1]]
                link.free_ids.append(reply[1])
                latencies.append(received - entry[0])
                if reply_times is not None:
                    reply_times.append(received)
                remaining -= 1
                last_reply = received
            sent += fill(link)
        if now() - last_sweep > 0.25:
            last_sweep = now()
            for link in links.values():
                expired = [i for i, (at, _) in link.outstanding.items() if last_sweep - at > timeout]
                for identifier in expired:
                    del link.outstanding[identifier]
                    link.free_ids.append(identifier)
                    lost += 1
                    remaining -= 1
                if expired:
                    sent += fill(link)
    cpu = _cpu() - cpu_start
    for link in links.values():
        link.sock.close()
    poller.close()
    elapsed = max(last_reply - started, 1e-9)
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return RunStats(
        target=f"{host}:{port}",
        sent=sent,
        answered=len(latencies),
        lost=lost,
        bad_replies=bad,
        seconds=round(elapsed, 3),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(pct(0.50), 3),
        p99_ms=round(pct(0.99), 3),
        max_ms=round(latencies[-1] * 1000, 3) if latencies else float("nan"),
        generator_cpu_seconds=round(cpu, 3),
        generator_cpu_share=round(cpu / max(now() - started, 1e-9), 3),
    )
