"""Where the CPU of one benchmark run goes: per process (and per kind of process), and the kernel's share.

`Attribution.start()` snapshots the CPU time of every process of interest and the machine's /proc/stat
counters; `finish(requests)` returns the deltas as CPU seconds and microseconds per answered request. What
the named processes do not account for (other engineers' work, kernel threads) shows as `other`; softirq
(the loopback network path of every datagram and TCP segment) is reported from /proc/stat on its own.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
KAFKA_PIDFILE = Path(os.environ.get("BSS_STATE_DIR", "/var/tmp/ispbss")) / "kafka" / "kafka.pid"


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def cpu_of(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK if fields else 0.0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(c) for c in path.read_text().split()]
    except FileNotFoundError:
        return []


def name_of(pid: int) -> str:
    """/proc/PID/comm: radius-ingest names its workers radius-udp-N and its tracker radius-tracker-0."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kafka_pid(pidfile: Path = KAFKA_PIDFILE) -> int | None:
    """The broker JVM started by deploy/local/kafka.sh (the shared one, or a private one's pid file)."""
    try:
        return int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def postgres_pids(database: str | None = None) -> list[int]:
    """PostgreSQL server processes (all, or the backends of one database: `postgres: user db host ...`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if not cmdline.startswith("postgres"):
            continue
        if database is None or f" {database} " in cmdline:
            found.append(int(entry.name))
    return found


def machine() -> dict[str, float]:
    """/proc/stat's first line in seconds: user, nice, system, idle, iowait, irq, softirq, steal."""
    values = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {n: int(v) / TICK for n, v in zip(names, values, strict=True)}


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


Groups = Callable[[], dict[str, list[int]]]  # name -> pids, re-read at start and finish (workers may restart)


class Attribution:
    def __init__(self, groups: Groups, *, generator: str = "load generator (this process)") -> None:
        self._groups = groups
        self._generator = generator
        self._before: dict[str, dict[int, float]] = {}
        self._machine: dict[str, float] = {}
        self._self = 0.0

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_of(pid) for pid in pids} for name, pids in self._groups().items()}

    def start(self) -> None:
        self._before = self._sample()
        self._machine = machine()
        self._self = self_cpu()

    def finish(self, requests: int) -> dict[str, object]:
        after = self._sample()
        machine_after = machine()
        generator = self_cpu() - self._self
        seconds: dict[str, float] = {}
        for name, pids in after.items():
            before = self._before.get(name, {})
            # a process that started during the run counts from zero
            seconds[name] = sum(cpu - before.get(pid, 0.0) for pid, cpu in pids.items())
        seconds[self._generator] = generator
        delta = {k: machine_after[k] - self._machine[k] for k in machine_after}
        busy = sum(v for k, v in delta.items() if k not in ("idle", "iowait"))
        seconds["softirq (kernel, /proc/stat)"] = delta["softirq"] + delta["irq"]
        named = sum(v for k, v in seconds.items() if not k.startswith("softirq"))
        seconds["other (not attributed)"] = max(0.0, busy - named - seconds["softirq (kernel, /proc/stat)"])
        per_request = {k: round(v * 1e6 / requests, 1) if requests else None for k, v in seconds.items()}
        return {
            "cpu_seconds": {k: round(v, 2) for k, v in seconds.items()},
            "us_per_request": per_request,
            "machine_busy_seconds": round(busy, 2),
            "machine_idle_seconds": round(delta["idle"] + delta["iowait"], 2),
            "machine_us_per_request": round(busy * 1e6 / requests, 1) if requests else None,
        }


def print_breakdown(title: str, breakdown: dict[str, object]) -> None:
    seconds: dict[str, float] = breakdown["cpu_seconds"]  # type: ignore[assignment]
    per: dict[str, float] = breakdown["us_per_request"]  # type: ignore[assignment]
    print(f"  CPU of {title}:")
    width = max(len(k) for k in seconds)
    for name in seconds:
        print(f"    {name.ljust(width)}  {seconds[name]:7.2f} s  {per[name]:8.1f} us/request")
    busy, idle = breakdown["machine_busy_seconds"], breakdown["machine_idle_seconds"]
    label = "machine busy (all processes)".ljust(width)
    print(f"    {label}  {busy:7.2f} s  {breakdown['machine_us_per_request']:8.1f} us/request; idle {idle:.2f} s")
