"""File delivery: a report's outputs written into a directory (local or mounted) or onto an SFTP server.

Every file is written under a temporary name in its target directory (`.name.<delivery>.part`), flushed, and then
renamed over its final name (`os.replace`; on SFTP the `posix-rename@openssh.com` extension, which replaces an
existing file as rename(2) does): whoever watches the directory sees a whole file or none. A try that fails
removes its temporary file where it can and raises DeliveryFailed; the caller records it and retries later.

SFTP logs in with a private key only (no password, no agent, no ~/.ssh files), and accepts the server only if it
presents the destination's known host key: a server with another key is refused, never trusted on first use.
One try per call, as email and webhook (service_layer/delivery.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncssh

from bss_runtime.delivery import DeliveryFailed
from reporting.bi.domain.file_delivery import sftp_target, temporary_name


@dataclass(frozen=True)
class OutgoingFile:
    filename: str  # file-safe (bi.output_filename): no separators
    content: Callable[[], AsyncIterator[bytes]]  # the bytes, chunk by chunk, each call from the start


@dataclass(frozen=True)
class SftpDestination:
    host: str
    port: int
    username: str
    private_key: str  # OpenSSH or PEM text, unencrypted
    remote_dir: str
    known_host_key: str  # "ssh-ed25519 AAAA..." as in known_hosts or the server's .pub file

    @property
    def target(self) -> str:
        return sftp_target(self.username, self.host, self.port, self.remote_dir)


class KeyProblem(ValueError):
    """A key that cannot be used: `which` is "private_key" or "known_host_key"."""

    def __init__(self, which: str, message: str) -> None:
        super().__init__(message)
        self.which = which


def parse_keys(private_key: str, known_host_key: str) -> tuple[asyncssh.SSHKey, asyncssh.SSHKey]:
    try:
        client_key = asyncssh.import_private_key(private_key)
    except Exception as exc:  # whatever the text is, it is not a usable key: 422, never 500
        raise KeyProblem("private_key", f"not an unencrypted private key in OpenSSH or PEM form: {exc}") from exc
    try:
        # A known_hosts line may start with the host names: the key is the last two fields before any comment.
        fields = known_host_key.split()
        start = next(i for i, f in enumerate(fields) if f.startswith(("ssh-", "ecdsa-", "sk-")))
        host_key = asyncssh.import_public_key(" ".join(fields[start : start + 2]))
    except Exception as exc:
        raise KeyProblem("known_host_key", "not an SSH public key such as 'ssh-ed25519 AAAA...'") from exc
    return client_key, host_key


# ---------------------------------------------------------------- directory


class DirectoryWriter:
    def __init__(self, root: str | None) -> None:
        self.root = root

    async def write(self, relative: str, files: Sequence[OutgoingFile], delivery_id: str) -> None:
        if not self.root:
            raise DeliveryFailed("directory delivery is not configured (BI_DELIVERY_DIRECTORY_ROOT)")
        try:
            target = await asyncio.to_thread(_directory_in_root, self.root, relative)
            for file in files:
                await self._one(target, file, delivery_id)
        except OSError as exc:
            raise DeliveryFailed(f"directory {relative}: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    async def _one(directory: str, file: OutgoingFile, delivery_id: str) -> None:
        temporary = os.path.join(directory, temporary_name(file.filename, delivery_id))
        handle = await asyncio.to_thread(open, temporary, "wb")
        try:
            try:
                async for chunk in file.content():
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(handle.flush)
                await asyncio.to_thread(os.fsync, handle.fileno())
            finally:
                handle.close()
            await asyncio.to_thread(os.replace, temporary, os.path.join(directory, file.filename))
        except BaseException:
            await asyncio.to_thread(_remove_quietly, temporary)
            raise
        await asyncio.to_thread(_sync_directory, directory)


def _directory_in_root(root: str, relative: str) -> str:
    """The target directory, created if needed, after making sure no symbolic link leads it out of the root."""
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        raise DeliveryFailed(f"BI_DELIVERY_DIRECTORY_ROOT {root} is not a directory")
    for _ in range(2):  # before creating it (an existing link) and after (a link made meanwhile)
        target = os.path.realpath(os.path.join(real_root, relative))
        if os.path.commonpath([real_root, target]) != real_root:
            raise DeliveryFailed(f"directory {relative}: leads out of BI_DELIVERY_DIRECTORY_ROOT")
        os.makedirs(target, exist_ok=True)
    return target


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _sync_directory(directory: str) -> None:
    """The rename itself survives a crash of the machine."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- SFTP


class SftpUploader:
    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    async def upload(self, destination: SftpDestination, files: Sequence[OutgoingFile], delivery_id: str) -> None:
        try:
            client_key, host_key = parse_keys(destination.private_key, destination.known_host_key)
            options: dict[str, Any] = {
                "username": destination.username,
                "client_keys": [client_key],
                "known_hosts": ([host_key], [], []),
                "agent_path": None,
                "password": None,
                "kbdint_auth": False,
                "config": None,
                "connect_timeout": self._timeout,
                "login_timeout": self._timeout,
            }
            async with (
                asyncssh.connect(destination.host, destination.port, **options) as connection,
                connection.start_sftp_client() as sftp,
            ):
                directory = destination.remote_dir
                if directory not in (".", "/"):
                    await sftp.makedirs(directory, exist_ok=True)
                for file in files:
                    await self._one(sftp, directory, file, delivery_id)
        except (OSError, TimeoutError, asyncssh.Error, KeyProblem) as exc:
            raise DeliveryFailed(f"sftp {destination.target}: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    async def _one(sftp: asyncssh.SFTPClient, directory: str, file: OutgoingFile, delivery_id: str) -> None:
        temporary = posixpath.join(directory, temporary_name(file.filename, delivery_id))
        try:
            async with sftp.open(temporary, "wb") as remote:
                async for chunk in file.content():
                    await remote.write(chunk)
            await sftp.posix_rename(temporary, posixpath.join(directory, file.filename))
        except BaseException:
            with contextlib.suppress(OSError, asyncssh.Error):
                await sftp.remove(temporary)
            raise
