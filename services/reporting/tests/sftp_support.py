"""A real OpenSSH server for the SFTP delivery tests: /usr/sbin/sshd in the foreground with a configuration of its
own, on a free loopback port, running as the current user (no system service, nothing outside its directory).

Its host key and the client's key are made fresh in its directory; the client's public key is its only
authorized key, passwords and keyboard-interactive are off, and `Subsystem sftp internal-sftp` serves SFTP.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from pathlib import Path

import asyncssh

from bss_testkit.system import free_port

SSHD = "/usr/sbin/sshd"


def _key_pair(path: Path) -> tuple[str, str]:
    """A new Ed25519 key written to `path` (mode 0600) in OpenSSH form; its private and public text."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    private = key.export_private_key("openssh").decode()
    public = key.export_public_key("openssh").decode().strip()
    path.write_text(private)
    path.chmod(0o600)
    return private, public


class SshServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.port = free_port()
        self.inbox = directory / "inbox"  # where the tests point their deliveries (absolute remote_dir)
        self.inbox.mkdir()
        _, self.host_public_key = _key_pair(directory / "host_ed25519")
        self.client_private_key, client_public = _key_pair(directory / "client_ed25519")
        (directory / "authorized_keys").write_text(client_public + "\n")
        self.config = directory / "sshd_config"
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {directory / 'host_ed25519'}",
                    f"PidFile {directory / 'sshd.pid'}",
                    f"AuthorizedKeysFile {directory / 'authorized_keys'}",
                    f"AllowUsers {self.user}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "Subsystem sftp internal-sftp",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        self.log = directory / "sshd.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> SshServer:
        if os.getuid() == 0:  # sshd run by root separates privileges into this directory (a tmpfs may lack it)
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        with self.log.open("ab") as log:
            self._process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited {self._process.returncode}: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not listen on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def destination(self, remote_dir: str | None = None, **overrides: object) -> dict[str, object]:
        """The body of a schedule's `sftp` field pointing at this server."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "username": self.user,
            "private_key": self.client_private_key,
            "known_host_key": self.host_public_key,
            "remote_dir": remote_dir or str(self.inbox),
        } | overrides
