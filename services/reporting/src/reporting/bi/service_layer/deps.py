"""What the BI use cases need: the database, settings, time, the report endpoints, and the ways out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp

from bss_runtime.auth import JwtConfig
from bss_runtime.clock import Clock
from bss_runtime.db import Database
from bss_runtime.delivery import Mailer
from reporting.bi.adapters.files import DirectoryWriter, SftpUploader
from reporting.config import Settings


class Webhooks(Protocol):
    async def post(self, url: str, body: bytes, *, secret: str, delivery_id: str) -> None:
        """One signed POST; raise DeliveryFailed unless the answer is 2xx."""
        ...


@dataclass(frozen=True)
class BiDeps:
    database: Database
    settings: Settings
    clock: Clock
    reports_app: ASGIApp  # the report endpoints (the same router the API serves)
    jwt: JwtConfig
    mailer: Mailer
    webhooks: Webhooks
    directories: DirectoryWriter  # file delivery into BI_DELIVERY_DIRECTORY_ROOT
    sftp: SftpUploader
