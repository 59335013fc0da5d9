"""The whole system as `make up` runs it, but private to one test: its own PostgreSQL cluster, Kafka broker (or
a cluster of `brokers`), five services (or `replicas` instances of each), mail catcher and nginx gateway, started
by the project's deploy/local scripts on free ports with a state directory of its own. Killing its parts
(`Stack.kill`) touches nothing else on the machine."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
LOCAL = ROOT / "deploy/local"
SERVICES = ("customers", "billing", "dunning", "reporting", "radius-ingest", "support")
# Variables of the surrounding test run that would point the stack at the shared broker and database.
INHERITED = (
    *("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PREFIX", "KAFKA_GROUP_PREFIX", "PG_ADMIN_URL"),
    *("HTTP_PORT", "SERVICE_NAME", *(f"{s.upper().replace('-', '_')}_DATABASE_URL" for s in SERVICES)),
)


BAND_SIZE = 2000


def _band() -> range:
    """The ports this process picks stacks' ports from. `make test` runs two pytest-xdist workers that start private
    stacks at the same moment: a port one finds free may be bound by the other's services a second later. Each
    worker (PYTEST_XDIST_WORKER gw0, gw1, ...) has a band of its own, a process outside xdist the band before them,
    all below Linux's ephemeral range (32768 up), which the kernel hands to outgoing connections."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = 16000 + BAND_SIZE * (index % 8)
    return range(start, start + BAND_SIZE)


def _free(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# Every `free_*` function takes `taken`: ports already handed out for something not started yet (a stack picks all
# its ports before any is bound), which count as bound; the ports it returns are added to it.
NOTHING_TAKEN: frozenset[int] = frozenset()


def free_port(kind: int = socket.SOCK_STREAM, taken: set[int] | None = None) -> int:
    """A free port (TCP, or UDP with SOCK_DGRAM) from this process's band."""
    band = _band()
    for _ in range(500):
        port = random.choice(band)
        if port not in (taken or NOTHING_TAKEN) and _free(port, kind):
            if taken is not None:
                taken.add(port)
            return port
    raise RuntimeError(f"no free port in {band}")


def _tcp_free(port: int, taken: set[int] | None = None) -> bool:
    return port not in (taken or NOTHING_TAKEN) and _free(port)


def free_base(replicas: int = 1, taken: set[int] | None = None) -> int:
    """A base whose HTTP ports are free: the six services' SERVICE_PORT_BASE + 1..6, and + 11..16 and so on for each
    further replica, and the ops API's + 7 (deploy/local/services.sh)."""
    ports = [10 * r + i for r in range(replicas) for i in range(1, 7)] + [7]
    for _ in range(200):
        base = free_port() // 10 * 10
        if base + max(ports) < _band().stop and all(_tcp_free(base + p, taken) for p in ports):
            if taken is not None:
                taken.update(base + p for p in ports)
            return base
    raise RuntimeError(f"no free ports for {replicas} replica(s) of six services")


def free_run(count: int, taken: set[int] | None = None) -> int:
    """The first of `count` consecutive free TCP ports (a Kafka cluster's nodes: KAFKA_PORT + 0..2n-1)."""
    for _ in range(200):
        first = free_port()
        if first + count < _band().stop and all(_tcp_free(first + i, taken) for i in range(count)):
            if taken is not None:
                taken.update(range(first, first + count))
            return first
    raise RuntimeError(f"no {count} free ports in a row")


@dataclass
class Stack:
    state: Path
    env: dict[str, str]

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.env['GATEWAY_PORT']}"

    @property
    def radius_port(self) -> int:
        return int(self.env["RADIUS_PORT"])

    @property
    def brokers(self) -> int:
        return int(self.env.get("KAFKA_BROKERS", "1"))

    @property
    def kafka_bootstrap(self) -> str:
        port = int(self.env["KAFKA_PORT"])  # node i on KAFKA_PORT + 2(i-1) (deploy/local/kafka.sh)
        return ",".join(f"127.0.0.1:{port + 2 * i}" for i in range(self.brokers))

    def pg_url(self, database: str) -> str:
        return f"postgresql://postgres:postgres@127.0.0.1:{self.env['PG_PORT']}/{database}"

    async def run(self, script: str, *args: str, check: bool = True) -> None:
        process = await asyncio.create_subprocess_exec(
            str(LOCAL / script), *args, env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await process.communicate()
        assert process.returncode == 0 or not check, f"{script} {' '.join(args)} failed:\n{out.decode()[-3000:]}"

    def kill(self, target: str) -> None:
        """SIGKILL one part: a service instance's whole process group ("customers", "customers-2"), the broker's
        JVM ("kafka", or a cluster's node "kafka-2"), or PostgreSQL and its backends."""
        if target == "kafka":
            os.kill(int((self.state / "kafka/kafka.pid").read_text()), signal.SIGKILL)
        elif target.startswith("kafka-"):
            os.kill(int((self.state / f"kafka/node-{target.removeprefix('kafka-')}/kafka.pid").read_text()), 9)
        elif target == "postgres":
            postmaster = int((self.state / "postgres/data/postmaster.pid").read_text().split()[0])
            for pid in [postmaster, *_children(postmaster)]:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        else:
            os.killpg(int((self.state / f"services/{target}.pid").read_text()), signal.SIGKILL)

    async def restart(self, target: str) -> None:
        """Start what `kill` killed again, with the project's scripts (services: every one not running)."""
        if target.startswith("kafka"):
            await self.run("kafka.sh", "start")
        elif target == "postgres":
            await self.run("postgres.sh", "start")
        else:
            await self.run("services.sh", "start")


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
    return found


@asynccontextmanager
async def local_stack(brokers: int = 1, replicas: int = 1, extra: dict[str, str] | None = None) -> AsyncIterator[Stack]:
    """The stack, with `brokers` Kafka nodes (KAFKA_BROKERS) and `replicas` instances of each service (REPLICAS);
    `extra`: more environment for the scripts and the services."""
    state = Path(tempfile.mkdtemp(prefix="ispbss-stack-", dir="/var/tmp"))
    os.chmod(state, 0o755)  # noqa: S103 - PostgreSQL runs as its own OS user when the tests run as root
    # Every port is picked before any is bound: `taken` keeps two of them from being the same one.
    taken: set[int] = set()
    kafka_port = free_run(2 * brokers, taken)  # node i: KAFKA_PORT + 2(i-1), its controller the port after
    env = {k: v for k, v in os.environ.items() if k not in INHERITED} | {
        "BSS_STATE_DIR": str(state),
        "ENVIRONMENT": "local",
        "PG_PORT": str(free_port(taken=taken)),
        "KAFKA_BROKERS": str(brokers),
        "KAFKA_PORT": str(kafka_port),
        "KAFKA_CONTROLLER_PORT": str(kafka_port + 1),
        "REPLICAS": str(replicas),
        "SERVICE_PORT_BASE": str(free_base(replicas, taken)),
        "GATEWAY_PORT": str(free_port(taken=taken)),
        "MAIL_PORT": str(free_port(taken=taken)),
        "RADIUS_PORT": str(free_port(socket.SOCK_DGRAM, taken)),
    }
    env |= extra or {}
    # The broker's jars as the shared broker fetched them (a fresh machine fetches them into the stack instead).
    shared_lib = Path(os.environ.get("BSS_STATE_DIR", "/var/tmp/ispbss")) / "kafka/lib"  # noqa: S108 - the default
    if (shared_lib / ".pom-sha256").is_file():
        (state / "kafka").mkdir()
        (state / "kafka/lib").symlink_to(shared_lib)
    stack = Stack(state, env)
    try:
        await asyncio.gather(stack.run("postgres.sh", "start"), stack.run("kafka.sh", "start"))
        await stack.run("services.sh", "start")
        yield stack
    finally:
        await stack.run("services.sh", "stop", check=False)
        await asyncio.gather(stack.run("kafka.sh", "stop", check=False), stack.run("postgres.sh", "stop", check=False))
        await asyncio.to_thread(shutil.rmtree, state, ignore_errors=True)
