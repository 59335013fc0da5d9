"""A private Kafka broker (or cluster of `brokers` combined KRaft nodes) for one benchmark run, started by the
project's own script.

`deploy/local/kafka.sh` starts it with its state (data, logs, pid) in a throwaway directory next to the shared
broker's and on free loopback ports, so that (1) the broker's CPU in the breakdown is this run's alone (the shared
broker on 59092 also carries other engineers' tests), and (2) the settings kafka.sh writes today are the ones
measured, without restarting the shared broker. The jars are the shared state directory's (a symlink): nothing is
downloaded. `settings` are extra environment variables for kafka.sh (its `KAFKA_*` knobs). With `brokers` > 1 the
service creates its topics as the registry says for that cluster (replication factor 3, `min.insync.replicas` 2).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local" / "kafka.sh"
SHARED_STATE = Path(os.environ.get("BSS_STATE_DIR", "/var/tmp/ispbss"))


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_port_block(size: int) -> int:
    """The first of `size` consecutive free loopback ports (kafka.sh puts node i on base + 2(i-1), its controller
    on base + 1 + 2(i-1))."""
    for _ in range(100):
        base = _free_tcp_port()
        if base + size > 65535:
            continue
        try:
            for port in range(base, base + size):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {size} consecutive free loopback ports")


class PrivateBroker:
    def __init__(self, settings: dict[str, str] | None = None, brokers: int = 1) -> None:
        self.state = SHARED_STATE.parent / f"{SHARED_STATE.name}-radius-bench-{secrets.token_hex(3)}"
        self.brokers = brokers
        self.port = _free_port_block(2 * brokers)
        self._env = (
            os.environ
            | (settings or {})
            | {
                "BSS_STATE_DIR": str(self.state),
                "KAFKA_BROKERS": str(brokers),
                "KAFKA_PORT": str(self.port),
                "KAFKA_CONTROLLER_PORT": str(self.port + 1),
            }
        )

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + 2 * i}" for i in range(self.brokers))

    def _node(self, i: int) -> Path:
        return self.state / "kafka" if self.brokers == 1 else self.state / "kafka" / f"node-{i}"

    @property
    def pidfiles(self) -> list[Path]:
        return [self._node(i) / "kafka.pid" for i in range(1, self.brokers + 1)]

    @property
    def properties(self) -> str:
        """The server.properties kafka.sh wrote for (the first node of) this broker (saved with the results)."""
        return (self._node(1) / "server.properties").read_text()

    def start(self) -> None:
        (self.state / "kafka").mkdir(parents=True, exist_ok=True)
        shared_lib = SHARED_STATE / "kafka" / "lib"
        if shared_lib.is_dir():
            (self.state / "kafka" / "lib").symlink_to(shared_lib)
        subprocess.run([str(SCRIPT), "start"], env=self._env, check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        try:
            subprocess.run([str(SCRIPT), "stop"], env=self._env, check=False, stdout=subprocess.DEVNULL)
        finally:
            shutil.rmtree(self.state, ignore_errors=True)
