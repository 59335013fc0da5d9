"""Rules of file delivery (a schedule's outputs written to a directory or an SFTP server). Pure: no I/O.

- A directory destination is a relative path under the service's BI_DELIVERY_DIRECTORY_ROOT (a local or mounted
  directory the operator chooses): absolute paths, `..`, backslashes and control characters are refused, so a
  schedule can never name a place outside the root. The adapter checks again after resolving symbolic links.
- An SFTP destination's remote directory may be absolute or relative to the login directory, never with `..`.
- Every file is first written under a temporary name in its target directory, then renamed over the final name:
  a reader of the directory sees the whole file or none of it (`temporary_name`).
- A delivery is `pending` until its first try, `retrying` after a failed try that will be tried again,
  `delivered`, or `failed` once its tries are spent (`status_after_failure`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath

from reporting.bi.domain.model import Invalid

MAX_PATH = 1024


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)  # a worker may still try these


def status_after_failure(attempts: int, max_attempts: int) -> DeliveryStatus:
    return DeliveryStatus.FAILED if attempts >= max_attempts else DeliveryStatus.RETRYING


def _parts(field: tuple[str | int, ...], value: str) -> tuple[str, ...]:
    if not value.strip():
        raise Invalid(field, "a path is needed")
    if len(value) > MAX_PATH:
        raise Invalid(field, f"at most {MAX_PATH} characters")
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise Invalid(field, "no backslashes or control characters")
    parts = PurePosixPath(value).parts
    if ".." in parts:
        raise Invalid(field, "'..' is not allowed: the path may not leave its root")
    return parts


def directory_path(field: tuple[str | int, ...], value: str) -> str:
    """A directory destination, normalised ("a/./b/" -> "a/b"; "." is the root itself)."""
    parts = _parts(field, value)
    if parts and parts[0] == "/":
        raise Invalid(field, "a path relative to BI_DELIVERY_DIRECTORY_ROOT, not an absolute one")
    return str(PurePosixPath(*parts)) if parts else "."


def remote_dir(field: tuple[str | int, ...], value: str) -> str:
    """An SFTP remote directory: absolute, or relative to the login directory; normalised."""
    return str(PurePosixPath(*_parts(field, value)))


def temporary_name(filename: str, delivery_id: str) -> str:
    """Hidden, and unique to the delivery: two deliveries of one file never write over each other's halves."""
    return f".{filename}.{delivery_id[:12]}.part"


def sftp_target(username: str, host: str, port: int, directory: str) -> str:
    """How a delivery names its SFTP destination (no secret in it)."""
    shown_host = f"[{host}]" if ":" in host else host
    path = directory if directory.startswith("/") else "/~" + ("" if directory == "." else f"/{directory}")
    return f"sftp://{username}@{shown_host}:{port}{path}"
