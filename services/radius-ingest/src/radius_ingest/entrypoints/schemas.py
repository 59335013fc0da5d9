"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bss_runtime.inputs import Text
from radius_ingest.domain.nas import normalise_address

NAS_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
Secret = Annotated[str, Text(255)]
Description = Annotated[str, Text(500, min_length=0)]


def _address(value: str) -> str:
    try:
        return normalise_address(value)
    except ValueError as exc:
        raise ValueError("must be an IP address or a CIDR block, e.g. 192.0.2.10 or 10.20.0.0/16") from exc


class NasClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nas_id: str = Field(pattern=NAS_ID_PATTERN, description="The tenant's name for this NAS (or group of NAS)")
    address: Annotated[str, Text(64)] = Field(description="Source IP address or CIDR block the NAS sends from")
    secret: Secret = Field(description="RADIUS shared secret (never returned)")
    description: Description | None = None

    _check_address = field_validator("address")(_address)


class NasClientChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Annotated[str, Text(64)] | None = None
    secret: Secret | None = None
    description: Description | None = None

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        return None if value is None else _address(value)


class NasClientOut(BaseModel):
    nas_id: str
    address: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class OpenSessionOut(BaseModel):
    session_key: str
    nas_id: str
    nas_ip_address: str
    username: str
    last_event_time: datetime
    last_event: dict[str, Any]
