"""OpenID Connect tokens: RS256/ES256 verified against a JWK set served over real HTTP by a loopback provider,
through a real FastAPI app; key rotation, refetch limits, provider outages and every way a token must fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from bss_runtime.auth import JwtConfig, Principal, Role, issue_token, require_roles
from bss_runtime.jwks import JwksKeySet, parse_key_set
from bss_runtime.settings import DEFAULT_JWT_SECRET, ServiceSettings, ensure_safe_to_serve
from bss_testkit.oidc import AUDIENCE, ISSUER, JwksServer, claims, ec_key, rsa_key

RSA_1, RSA_2, EC_1 = rsa_key("rsa-1"), rsa_key("rsa-2"), ec_key("ec-1")
SECRET = "a-service-secret-of-at-least-32-bytes!"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def whoami_app(config: JwtConfig) -> FastAPI:
    app = FastAPI()
    app.state.jwt = config

    @app.get("/whoami")
    async def whoami(principal: Annotated[Principal, Depends(require_roles(Role.FINANCE))]) -> dict[str, Any]:
        return {"tenant": principal.tenant_id, "subject": principal.subject, "roles": sorted(principal.roles)}

    return app


def config_for(key_set: JwksKeySet, **overrides: Any) -> JwtConfig:
    return JwtConfig(SECRET, ISSUER, AUDIENCE, jwks=key_set, **overrides)


@pytest.fixture
def provider() -> Iterator[JwksServer]:
    with JwksServer(RSA_1, EC_1) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def key_set(provider: JwksServer, clock: Clock) -> JwksKeySet:
    return JwksKeySet(provider.url, cache_seconds=300, min_refresh_seconds=10, timeout_seconds=2, clock=clock)


async def client_for(config: JwtConfig) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=whoami_app(config)), base_url="http://t") as c:
        yield c


@pytest.fixture
async def client(key_set: JwksKeySet) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(config_for(key_set)):
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status_of(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/whoami", headers=bearer(token))).status_code


async def test_rs256_and_es256_tokens_of_the_provider_are_accepted(client, provider):
    for key in (RSA_1, EC_1):
        answer = await client.get("/whoami", headers=bearer(key.sign(claims(tenant="isp-a", roles=["finance"]))))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"tenant": "isp-a", "subject": "user-oidc", "roles": ["finance"]}
    assert provider.requests == 1  # one fetch, then the cache
    assert await status_of(client, RSA_1.sign(claims(roles=["support"]))) == 403  # a valid token, wrong role


async def test_a_rotated_key_is_picked_up_without_restart_and_a_removed_one_refused(client, provider, clock):
    old = RSA_1.sign(claims(roles=["finance"]))
    assert await status_of(client, old) == 200

    provider.publish(RSA_1, RSA_2)  # the provider rotates a new key in
    new = RSA_2.sign(claims(roles=["finance"]))
    clock.now += 10  # past the refetch limit: the unknown kid triggers one fetch
    assert await status_of(client, new) == 200
    assert provider.requests == 2

    provider.publish(RSA_2)  # ... and the old one out
    clock.now += 300  # the cached set expires
    assert await status_of(client, new) == 200
    assert provider.requests == 3
    answer = await client.get("/whoami", headers=bearer(old))
    assert answer.status_code == 401
    assert "no key 'rsa-1'" in answer.json()["detail"]


async def test_unknown_kids_refetch_at_most_once_per_interval(client, provider, clock):
    assert await status_of(client, RSA_1.sign(claims(roles=["finance"]))) == 200
    provider.publish(RSA_1, RSA_2)
    clock.now += 10
    forged = [RSA_2.sign(claims(roles=["finance"]), kid=f"made-up-{i}") for i in range(20)]
    assert [await status_of(client, t) for t in forged] == [401] * 20
    assert provider.requests == 2  # one refetch for twenty unknown kids
    assert await status_of(client, RSA_2.sign(claims(roles=["finance"]))) == 200  # that refetch brought rsa-2
    provider.publish(RSA_1, RSA_2, EC_1)
    clock.now += 5
    assert await status_of(client, EC_1.sign(claims(roles=["finance"]))) == 401  # too soon to fetch again
    clock.now += 5
    assert await status_of(client, EC_1.sign(claims(roles=["finance"]))) == 200
    assert provider.requests == 3


async def test_a_provider_outage_keeps_the_cached_keys_and_answers_401_for_unknown_kids(client, provider, clock):
    assert await status_of(client, RSA_1.sign(claims(roles=["finance"]))) == 200
    provider.status = 503
    clock.now += 301  # expired: the refetch fails, the cached keys stay
    assert await status_of(client, RSA_1.sign(claims(roles=["finance"]))) == 200
    clock.now += 10
    assert await status_of(client, RSA_2.sign(claims(roles=["finance"]))) == 401
    assert provider.requests == 3
    provider.status = 200
    provider.publish(RSA_2)
    clock.now += 10
    assert await status_of(client, RSA_2.sign(claims(roles=["finance"]))) == 200  # back: the new set is in use


async def test_a_slow_provider_times_out_without_holding_the_request_long(provider):
    provider.delay = 3.0
    key_set = JwksKeySet(provider.url, timeout_seconds=0.3)
    async for client in client_for(config_for(key_set)):
        started = time.monotonic()
        assert await status_of(client, RSA_1.sign(claims(roles=["finance"]))) == 401
        assert time.monotonic() - started < 1.5
    assert provider.requests == 1


async def test_an_unreachable_provider_answers_401_not_500():
    with JwksServer(RSA_1) as gone:
        url = gone.url
    async for client in client_for(config_for(JwksKeySet(url, timeout_seconds=0.5))):
        assert await status_of(client, RSA_1.sign(claims(roles=["finance"]))) == 401


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(header: dict[str, Any], body: dict[str, Any], sign: Any = None) -> str:
    unsigned = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body, default=str).encode())}"
    signature = sign(unsigned.encode()) if sign else b""
    return f"{unsigned}.{_b64(signature)}"


def _numeric(body: dict[str, Any]) -> dict[str, Any]:
    return {k: (int(v.timestamp()) if hasattr(v, "timestamp") else v) for k, v in body.items()}


async def test_tokens_that_must_fail(client, provider):
    good = claims(roles=["finance"])
    assert await status_of(client, RSA_1.sign(good)) == 200
    body = _numeric(good)
    refused = {
        "wrong issuer": RSA_1.sign(claims(roles=["finance"], issuer="https://evil.example/realms/isp")),
        "wrong audience": RSA_1.sign(claims(roles=["finance"], audience="someone-else")),
        "expired": RSA_1.sign(claims(roles=["finance"], ttl=timedelta(seconds=-30))),
        "no sub": RSA_1.sign({k: v for k, v in good.items() if k != "sub"}),
        "no tenant": RSA_1.sign({k: v for k, v in good.items() if k != "tenant_id"}),
        "signed by a key the provider does not publish, under its kid": RSA_2.sign(good, kid="rsa-1"),
        "an ES256 token under an RSA kid": EC_1.sign(good, kid="rsa-1"),
        "alg none with a known kid": _token({"alg": "none", "kid": "rsa-1", "typ": "JWT"}, body),
        "alg none without kid": _token({"alg": "none", "typ": "JWT"}, body),
        "HS256 signed with the RSA public key": _token(
            {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"},
            body,
            lambda m: hmac.new(RSA_1.public_pem(), m, hashlib.sha256).digest(),
        ),
        "HS256 signed with the EC public key's JWK": _token(
            {"alg": "HS256", "kid": "ec-1", "typ": "JWT"},
            body,
            lambda m: hmac.new(json.dumps(EC_1.jwk()).encode(), m, hashlib.sha256).digest(),
        ),
        "not a JWT": "not-a-jwt",
    }
    answers = {name: (await client.get("/whoami", headers=bearer(t))) for name, t in refused.items()}
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(refused, 401)
    assert all(a.headers["www-authenticate"] == "Bearer" for a in answers.values())


async def test_hs256_with_the_service_secret_can_be_switched_off(key_set):
    own = issue_token(JwtConfig(SECRET, ISSUER, AUDIENCE), subject="bi", tenant_id="isp-a", roles=["finance"])
    async for client in client_for(config_for(key_set)):
        assert await status_of(client, own) == 200
    async for client in client_for(config_for(key_set, hs256_enabled=False)):
        assert await status_of(client, own) == 401
        assert await status_of(client, RSA_1.sign(claims(roles=["finance"]))) == 200
    async for client in client_for(JwtConfig(SECRET, ISSUER, AUDIENCE)):  # no JWKS URL: HS256 only
        assert await status_of(client, RSA_1.sign(claims(roles=["finance"]))) == 401


async def test_tenant_and_roles_come_from_configured_claim_paths(key_set):
    keycloak_like = claims(
        tenant="ignored",
        roles=["ignored"],
        realm_access={"roles": ["finance", "offline_access"]},
        org={"tenant": "isp-from-path"},
    )
    token = RSA_1.sign(keycloak_like)
    async for client in client_for(config_for(key_set, tenant_claim="org.tenant", roles_claim="realm_access.roles")):
        answer = await client.get("/whoami", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        assert answer.json()["tenant"] == "isp-from-path"
        assert answer.json()["roles"] == ["finance", "offline_access"]
        missing = RSA_1.sign(claims(roles=["finance"]))  # no realm_access, no org: no tenant
        assert await status_of(client, missing) == 401
        not_a_list = RSA_1.sign(claims(realm_access={"roles": {"finance": True}}, org={"tenant": "t"}))
        assert await status_of(client, not_a_list) == 401
    namespaced = RSA_1.sign(claims(**{"https://isp.example/tenant": "isp-ns", "scope": "openid finance"}))
    async for client in client_for(config_for(key_set, tenant_claim="https://isp.example/tenant", roles_claim="scope")):
        answer = await client.get("/whoami", headers=bearer(namespaced))
        assert answer.status_code == 200, answer.text
        assert (answer.json()["tenant"], answer.json()["roles"]) == ("isp-ns", ["finance", "openid"])


def test_only_asymmetric_signing_keys_are_taken_from_a_key_set():
    document = {
        "keys": [
            RSA_1.jwk(),
            EC_1.jwk(),
            {"kty": "oct", "kid": "sym", "k": _b64(b"x" * 32), "alg": "HS256"},
            RSA_2.jwk() | {"use": "enc"},
            RSA_2.jwk() | {"kid": "rsa-as-hs", "alg": "HS256"},
            EC_1.jwk() | {"kid": "ec-as-rs", "alg": "RS256"},
            {"kty": "RSA", "kid": "broken"},
        ]
    }
    keys = parse_key_set(document)
    assert {kid: k.algorithm for kid, k in keys.items()} == {"rsa-1": "RS256", "ec-1": "ES256"}
    with pytest.raises(ValueError, match="no 'keys'"):
        parse_key_set({"keys": "nope"})


def test_settings_and_start_up_refusals():
    settings = ServiceSettings(
        jwt_jwks_url="https://kc.example/realms/isp/protocol/openid-connect/certs",
        jwt_issuer="https://kc.example/realms/isp",
        jwt_roles_claim="realm_access.roles",
        jwt_hs256_enabled=False,
        environment="production",
    )
    config = JwtConfig.from_settings(settings)
    assert config.jwks is not None and config.jwks.url == settings.jwt_jwks_url
    assert (config.roles_claim, config.hs256_enabled) == ("realm_access.roles", False)
    ensure_safe_to_serve(settings)  # production, default secret, but HS256 is off: nothing signs with it

    with pytest.raises(SystemExit, match="not https"):
        ensure_safe_to_serve(settings.model_copy(update={"jwt_jwks_url": "http://kc.example/certs"}))
    ensure_safe_to_serve(settings.model_copy(update={"jwt_jwks_url": "http://kc/certs", "environment": "local"}))
    with pytest.raises(SystemExit, match="published default"):
        ensure_safe_to_serve(settings.model_copy(update={"jwt_hs256_enabled": True}))
    assert settings.jwt_secret == DEFAULT_JWT_SECRET
    with pytest.raises(SystemExit, match="no token could pass"):
        ensure_safe_to_serve(ServiceSettings(jwt_hs256_enabled=False, environment="local"))
