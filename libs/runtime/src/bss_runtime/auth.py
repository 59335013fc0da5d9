"""JWT bearer authentication: who is calling, for which tenant, with which roles.

Two kinds of tokens are accepted (docs/security.md says how to connect a provider):
- **OpenID Connect access tokens** when `JWT_JWKS_URL` is set: signed by the provider with an asymmetric key
  (RS256, ES256, ...) that is looked up by the token's `kid` in the provider's key set (`bss_runtime.jwks`:
  cached, refetched on an unknown `kid` so rotation needs no restart). The verifying algorithm is the key's;
  the token's `alg` header must agree with it, so `alg: none` and HS256-signed-with-the-public-key fail.
- **HS256 tokens signed with `JWT_SECRET`** (the services' own: local tools, the demo, reporting's BI runs),
  unless `JWT_HS256_ENABLED=false`. In production the secret is never the published default
  (`settings.ensure_safe_to_serve`).

Either way the token must carry `sub`, `exp`, `iss` = `JWT_ISSUER` and an `aud` containing `JWT_AUDIENCE`. In a
provider's token the tenant is the claim at `JWT_TENANT_CLAIM` (default `tenant_id`) and the roles the list at
`JWT_ROLES_CLAIM` (default `roles`); both are dotted paths into the claims (`realm_access.roles` for Keycloak realm
roles). The services' own HS256 tokens always carry them as `issue_token` writes them: `tenant_id`, `roles`.
Any failure answers 401 with `WWW-Authenticate: Bearer`; a missing role answers 403. Every query a service makes
is filtered by the principal's tenant.

A token that passed is remembered (`TokenCache`: `JWT_CACHE_SIZE` tokens per process, each for at most
`JWT_CACHE_SECONDS` and never past its `exp`), so a client sending the same token again is not verified again:
a signature check and claim decoding per request cost more CPU than a small write's own work (bench/http). The
price: a provider key withdrawn from the key set still admits the tokens it signed that were seen in the last
`JWT_CACHE_SECONDS` (never beyond their expiry). `JWT_CACHE_SIZE=0` verifies every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bss_runtime import context
from bss_runtime.jwks import JwksKeySet
from bss_runtime.settings import ServiceSettings


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


class TokenCache:
    """The principals of tokens verified recently, by the exact token text: at most `size` tokens (the oldest
    verified is forgotten first), each until `seconds` after its verification or its `exp`, whichever is first.
    `clock` is wall-clock seconds since the epoch (`exp` is one)."""

    def __init__(self, size: int, seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.size = size
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, until = entry
        if self._clock() >= until:
            del self._entries[token]
            return None
        return principal

    def put(self, token: str, principal: Principal, expires_at: float) -> None:
        if self.size <= 0:
            return
        until = min(expires_at, self._clock() + self.seconds)
        self._entries.pop(token, None)
        while len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (principal, until)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class JwtConfig:
    secret: str
    issuer: str = "ispbss"
    audience: str = "ispbss"
    tenant_claim: str = "tenant_id"
    roles_claim: str = "roles"
    hs256_enabled: bool = True
    jwks: JwksKeySet | None = None
    cache: TokenCache | None = field(default=None, compare=False)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> JwtConfig:
        jwks = None
        if settings.jwt_jwks_url:
            jwks = JwksKeySet(
                settings.jwt_jwks_url,
                cache_seconds=settings.jwt_jwks_cache_seconds,
                min_refresh_seconds=settings.jwt_jwks_min_refresh_seconds,
                timeout_seconds=settings.jwt_jwks_timeout_seconds,
            )
        return cls(
            secret=settings.jwt_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            tenant_claim=settings.jwt_tenant_claim,
            roles_claim=settings.jwt_roles_claim,
            hs256_enabled=settings.jwt_hs256_enabled,
            jwks=jwks,
            cache=TokenCache(settings.jwt_cache_size, settings.jwt_cache_seconds) if settings.jwt_cache_size else None,
        )


def issue_token(
    config: JwtConfig,
    *,
    subject: str,
    tenant_id: str,
    roles: Iterable[str],
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """An HS256 token signed with the service's own secret (claims at the default names)."""
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
    """An HS256 token signed with `config.secret` (no key set involved)."""
    return _decode_hs256(config, token)[0]


def _decode_hs256(config: JwtConfig, token: str) -> tuple[Principal, dict[str, Any]]:
    if not config.hs256_enabled:
        raise jwt.InvalidAlgorithmError("HS256 tokens are not accepted here")
    claims = _verify(config, token, config.secret, "HS256")
    return principal_from(claims, tenant_claim="tenant_id", roles_claim="roles"), claims  # as issue_token writes


async def authenticate(config: JwtConfig, token: str) -> Principal:
    """The principal of `token`, verified as the module's docstring says (or remembered from a verification
    that is still valid, `config.cache`); raises `jwt.PyJWTError` otherwise."""
    cache = config.cache
    if cache is not None and (known := cache.get(token)) is not None:
        return known
    principal, claims = await _authenticate(config, token)
    if cache is not None:
        cache.put(token, principal, float(claims["exp"]))
    return principal


async def _authenticate(config: JwtConfig, token: str) -> tuple[Principal, dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    if header.get("alg") == "HS256":
        return _decode_hs256(config, token)
    if config.jwks is None:
        raise jwt.InvalidAlgorithmError(f"algorithm {header.get('alg')!r} is not accepted (no JWKS URL is set)")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise jwt.InvalidTokenError("kid is not a string")
    key = await config.jwks.key(kid)
    if key is None:
        raise jwt.InvalidKeyError(f"no key {kid!r} in the provider's key set" if kid else "token has no kid")
    claims = _verify(config, token, key.key, key.algorithm)
    return principal_from(claims, tenant_claim=config.tenant_claim, roles_claim=config.roles_claim), claims


def _verify(config: JwtConfig, token: str, key: Any, algorithm: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[algorithm],
        audience=config.audience,
        issuer=config.issuer,
        options={"require": ["exp", "sub", "iss", "aud"]},
    )
    return claims


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted `path` (`realm_access.roles`), or None. A claim whose own name contains dots
    (`https://example.org/roles`) is found as it is."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def principal_from(claims: dict[str, Any], *, tenant_claim: str, roles_claim: str) -> Principal:
    tenant = claim_at(claims, tenant_claim)
    if not isinstance(tenant, str) or not tenant:
        raise jwt.InvalidTokenError(f"token lacks the tenant claim {tenant_claim!r}")
    roles = claim_at(claims, roles_claim)
    if roles is None:
        roles = []
    elif isinstance(roles, str):
        roles = roles.split()  # a space-separated list, as `scope` is
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise jwt.InvalidTokenError(f"the roles claim {roles_claim!r} is not a list of strings")
    return Principal(subject=str(claims["sub"]), tenant_id=tenant, roles=frozenset(roles))


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    config: JwtConfig = request.app.state.jwt
    try:
        principal = await authenticate(config, credentials.credentials)
    except jwt.PyJWTError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    context.tenant_id.set(principal.tenant_id)
    return principal


def require_roles(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits the principal if it has one of `roles` (admin always passes)."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has_any(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires one of the roles: {', '.join(roles)}")
        return principal

    return check
