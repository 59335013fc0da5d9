"""Dev sign-in for local mode: `POST /dev/token` hands out a token for a chosen tenant and role.

It exists only when ENVIRONMENT is local, dev or test (`bss_runtime.settings.DEVELOPMENT_ENVIRONMENTS`): in any
other environment the route is never mounted, so the path answers 404 like any unknown path. The token is the
services' own HS256 token (`bss_runtime.auth.issue_token`), signed with this service's JWT settings, which in
local mode every service shares; the operator console (`console/`) signs in with it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bss_runtime.auth import JwtConfig, Role, issue_token
from bss_runtime.inputs import Text
from bss_runtime.settings import DEVELOPMENT_ENVIRONMENTS, ServiceSettings

TOKEN_HOURS = 12


class DevTokenIn(BaseModel):
    tenant_id: Annotated[str, Text(64), Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    role: Role
    subject: Annotated[str, Text(200), Field(min_length=1)] = "console-dev"


class DevTokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2.0 token type, not a secret
    tenant_id: str
    roles: list[str]
    expires_in: int


router = APIRouter(prefix="/dev", tags=["dev sign-in (local mode only)"])


@router.post("/token")
async def dev_token(body: DevTokenIn, request: Request) -> DevTokenOut:
    """A token for `tenant_id` with `role`, valid for 12 hours. Local mode only."""
    config: JwtConfig = request.app.state.jwt
    token = issue_token(
        config,
        subject=body.subject,
        tenant_id=body.tenant_id,
        roles=[body.role.value],
        ttl=timedelta(hours=TOKEN_HOURS),
    )
    return DevTokenOut(
        access_token=token, tenant_id=body.tenant_id, roles=[body.role.value], expires_in=TOKEN_HOURS * 3600
    )


def enabled(settings: ServiceSettings) -> bool:
    return settings.environment in DEVELOPMENT_ENVIRONMENTS and settings.jwt_hs256_enabled
