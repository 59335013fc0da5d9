"""The customers service configured for an OpenID Connect provider (JWT_JWKS_URL): a Keycloak-shaped RS256
access token (roles under `realm_access.roles`) creates and reads a customer of the token's tenant; another
tenant's token does not see it."""

from __future__ import annotations

from bss_runtime.auth import JwtConfig, issue_token
from bss_testkit.oidc import AUDIENCE, ISSUER, JwksServer, claims, rsa_key
from customers.config import Settings
from customers.entrypoints.app import create_app

from .support import new_tenant, serving


async def test_an_rs256_token_of_the_provider_is_accepted(fresh_database, kafka_bootstrap, topic_prefix):
    key = rsa_key("kc-2026")
    with JwksServer(key) as provider:
        settings = Settings(
            database_url=await fresh_database("customers_oidc"),
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_topic_prefix=f"{topic_prefix}oidc.",
            jwt_jwks_url=provider.url,
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
            jwt_roles_claim="realm_access.roles",
        )
        tenant, other = new_tenant(), new_tenant()

        def token(tenant_id: str, *roles: str) -> dict[str, str]:
            signed = key.sign(claims(tenant=tenant_id, roles=[], realm_access={"roles": list(roles)}))
            return {"Authorization": f"Bearer {signed}"}

        async with serving(create_app(settings)) as client:
            created = await client.post("/customers", json={"name": "Via OIDC"}, headers=token(tenant, "support"))
            assert created.status_code == 201, created.text
            cid = created.json()["customer_id"]
            read = await client.get(f"/customers/{cid}", headers=token(tenant, "support"))
            assert read.status_code == 200, read.text
            assert read.json()["name"] == "Via OIDC"
            assert (await client.get(f"/customers/{cid}", headers=token(other, "support"))).status_code == 404
            assert (
                await client.post("/customers", json={"name": "x"}, headers=token(tenant, "viewer"))
            ).status_code == 403
            unknown = rsa_key("kc-2026").sign(claims(tenant=tenant, realm_access={"roles": ["support"]}))
            refused = await client.get(f"/customers/{cid}", headers={"Authorization": f"Bearer {unknown}"})
            assert refused.status_code == 401  # same kid, another key: the signature fails
            own = issue_token(JwtConfig(settings.jwt_secret, ISSUER, AUDIENCE), subject="bi", tenant_id=tenant,
                              roles=["support"])  # fmt: skip
            assert (
                await client.get(f"/customers/{cid}", headers={"Authorization": f"Bearer {own}"})
            ).status_code == 200
        assert provider.requests == 1
