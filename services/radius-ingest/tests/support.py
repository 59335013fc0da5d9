"""Helpers: the service as a real process, radclient as the NAS, raw datagrams for what radclient cannot send."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bss_runtime.auth import JwtConfig, issue_token
from bss_testkit.events import eventually
from radius_ingest.config import Settings
from radius_ingest.protocol.dictionary import RadiusDictionary

DICTIONARY = RadiusDictionary.load()
SECRET = "testing123"
GIGA = 1 << 32


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Radclient:
    returncode: int
    stdout: str
    stderr: str

    @property
    def answered(self) -> bool:
        return self.returncode == 0 and "Received Accounting-Response" in self.stdout


async def radclient(
    port: int,
    attributes: str,
    *,
    secret: str = SECRET,
    command: str = "acct",
    retries: int = 1,
    timeout: float = 3.0,
    count: int = 1,
) -> Radclient:
    """Send with Debian's radclient (freeradius-utils), as a NAS would; -x prints what came back."""
    process = await asyncio.create_subprocess_exec(
        "radclient", "-x", "-r", str(retries), "-t", str(timeout), "-c", str(count),
        f"127.0.0.1:{port}", command, secret,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(attributes.encode())
    assert process.returncode is not None
    return Radclient(process.returncode, out.decode(), err.decode())


def attrs(**values: object) -> str:
    """radclient input from keyword arguments: User_Name="x" -> User-Name = "x"."""
    lines = []
    for name, value in values.items():
        text = (
            f'"{value}"'
            if isinstance(value, str) and DICTIONARY.by_name[name.replace("_", "-")].type == "string"
            else value
        )
        lines.append(f"{name.replace('_', '-')} = {text}")
    return "\n".join(lines) + "\n"


# --- raw packets (what radclient cannot do on purpose: the very same datagram twice, broken framing) ----


def encode_attribute(name: str, value: object) -> bytes:
    spec = DICTIONARY.by_name[name]
    if spec.type in ("integer", "date"):
        number = DICTIONARY.value_code(name, value) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
        raw = struct.pack(">I", number)
    elif spec.type == "ipaddr":
        raw = socket.inet_aton(str(value))
    else:
        raw = str(value).encode()
    return bytes((spec.code, len(raw) + 2)) + raw


def accounting_request(
    identifier: int, secret: str, attributes: list[tuple[str, object]], *, message_authenticator: str = "none"
) -> bytes:
    """An Accounting-Request; message_authenticator "valid" or "wrong" appends one (RFC 3579 §3.2)."""
    body = b"".join(encode_attribute(n, v) for n, v in attributes)
    if message_authenticator != "none":
        body += bytes((80, 18)) + bytes(16)
    header = bytes((4, identifier)) + (20 + len(body)).to_bytes(2, "big")
    if message_authenticator == "valid":
        signature = hmac.new(secret.encode(), header + bytes(16) + body, hashlib.md5).digest()
        body = body[:-16] + signature
    elif message_authenticator == "wrong":
        body = body[:-16] + bytes(range(16))
    authenticator = hashlib.md5(header + bytes(16) + body + secret.encode()).digest()
    return header + authenticator + body


async def exchange(
    port: int, datagrams: list[bytes], *, wait: float = 2.0, sock: socket.socket | None = None
) -> list[bytes]:
    """Send datagrams from one socket and collect whatever comes back within `wait` seconds."""
    own = sock is None
    sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        for datagram in datagrams:
            await loop.sock_sendto(sock, datagram, ("127.0.0.1", port))
        replies = []
        deadline = loop.time() + wait
        while (left := deadline - loop.time()) > 0:
            try:
                replies.append(await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout=left))
            except TimeoutError:
                break
        return replies
    finally:
        if own:
            sock.close()


# --- the service as a process ------------------------------------------------------------------------


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    settings: Settings
    radius_port: int
    http_port: int
    log: Path

    def token(self, tenant: str, *roles: str) -> dict[str, str]:
        s = self.settings
        jwt = issue_token(JwtConfig(s.jwt_secret, s.jwt_issuer, s.jwt_audience), subject="t", tenant_id=tenant,
                          roles=roles or ("ops",))  # fmt: skip
        return {"Authorization": f"Bearer {jwt}"}

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.http_port}", timeout=10)


async def wait_until_answering(
    port: int, secret: str = SECRET, timeout: float = 90.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Status-Server (RFC 5997) until a worker answers: the health check a NAS would use."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the service exited with {process.returncode}")
        if (
            await radclient(port, "Message-Authenticator = 0x00\n", secret=secret, command="status", timeout=1)
        ).answered:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"no Status-Server answer on UDP {port} within {timeout}s")


async def ready(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


@asynccontextmanager
async def running_service(
    tmp_path: Path, *, database_url: str, bootstrap: str, prefix: str, clients_toml: str, **extra: str
) -> AsyncIterator[Service]:
    radius_port, http_port = free_port(), free_port(socket.SOCK_STREAM)
    clients = tmp_path / f"clients-{radius_port}.toml"
    clients.write_text(clients_toml)
    env = (
        os.environ
        | {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC_PREFIX": prefix,
            "HTTP_PORT": str(http_port),
            "RADIUS_HOST": "127.0.0.1",
            "RADIUS_PORT": str(radius_port),
            "RADIUS_WORKERS": "2",
            "NAS_CLIENTS_FILE": str(clients),
            "NAS_REFRESH_SECONDS": "0.3",
            "OUTBOX_POLL_SECONDS": "0.05",
            "LOG_LEVEL": "INFO",
        }
        | extra
    )
    log = tmp_path / f"service-{radius_port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "radius_ingest"], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields})  # type: ignore[call-arg]
    try:
        await wait_until_answering(radius_port, process=process)
        # One worker answering is not all of them: a worker that joins the port later changes which worker a
        # source port hashes to (SO_REUSEPORT), and so which one's reply cache sees its retransmissions.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as http:
            await eventually(lambda: ready(http), timeout=90)
        yield Service(process, settings, radius_port, http_port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def client_entry(tenant: str, nas_id: str, address: str, secret: str = SECRET) -> str:
    return (
        f'[[nas_client]]\ntenant_id = "{tenant}"\nnas_id = "{nas_id}"\naddress = "{address}"\nsecret = "{secret}"\n\n'
    )
