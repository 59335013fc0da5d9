"""JWT bearer authentication: who is calling, for which tenant, with which roles.

Tokens are signed JWTs (HS256 with JWT_SECRET) with claims `sub`, `tenant_id`, `roles`, `iss`, `aud`, `exp`.
Every query a service makes is filtered by the principal's tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bss_runtime import context


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    COLLECTIONS = "collections"
    OPS = "ops"
    SUPPORT = "support"
    SERVICE = "service"  # machine clients: monitoring systems, other services


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str
    roles: frozenset[str]

    def has_any(self, roles: Iterable[str]) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles.intersection(roles))


@dataclass(frozen=True)
class JwtConfig:
    secret: str
    issuer: str = "ispbss"
    audience: str = "ispbss"


def issue_token(
    config: JwtConfig,
    *,
    subject: str,
    tenant_id: str,
    roles: Iterable[str],
    ttl: timedelta = timedelta(hours=12),
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "tenant_id": tenant_id,
        "roles": sorted(roles),
        "iss": config.issuer,
        "aud": config.audience,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, config.secret, algorithm="HS256")


def decode_token(config: JwtConfig, token: str) -> Principal:
    claims = jwt.decode(
        token,
        config.secret,
        algorithms=["HS256"],
        audience=config.audience,
        issuer=config.issuer,
        options={"require": ["exp", "sub", "iss", "aud"]},
    )
    tenant = claims.get("tenant_id")
    roles = claims.get("roles", [])
    if not isinstance(tenant, str) or not tenant or not isinstance(roles, list):
        raise jwt.InvalidTokenError("token lacks tenant_id or roles")
    return Principal(subject=str(claims["sub"]), tenant_id=tenant, roles=frozenset(map(str, roles)))


_bearer = HTTPBearer(auto_error=False)


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    config: JwtConfig = request.app.state.jwt
    try:
        principal = decode_token(config, credentials.credentials)
    except jwt.PyJWTError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    context.tenant_id.set(principal.tenant_id)
    return principal


def require_roles(*roles: str) -> Callable[..., Principal]:
    """A dependency that admits the principal if it has one of `roles` (admin always passes)."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has_any(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires one of the roles: {', '.join(roles)}")
        return principal

    return check
