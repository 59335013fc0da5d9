"""A private single-node Kafka broker for one benchmark run, started by the project's own script.

`deploy/local/kafka.sh` starts it with its state (data, logs, pid) in a throwaway directory next to the shared
broker's and on free loopback ports, so that (1) the broker's CPU in the breakdown is this run's alone (the shared
broker on 59092 also carries other engineers' tests), and (2) the settings kafka.sh writes today are the ones
measured, without restarting the shared broker. The jars are the shared state directory's (a symlink): nothing is
downloaded. `settings` are extra environment variables for kafka.sh (its `KAFKA_*` knobs).
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


class PrivateBroker:
    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.state = SHARED_STATE.parent / f"{SHARED_STATE.name}-radius-bench-{secrets.token_hex(3)}"
        self.port = _free_tcp_port()
        self._env = (
            os.environ
            | (settings or {})
            | {
                "BSS_STATE_DIR": str(self.state),
                "KAFKA_PORT": str(self.port),
                "KAFKA_CONTROLLER_PORT": str(_free_tcp_port()),
            }
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.state / "kafka" / "kafka.pid"

    @property
    def properties(self) -> str:
        """The server.properties kafka.sh wrote for this broker (saved with the results)."""
        return (self.state / "kafka" / "server.properties").read_text()

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
