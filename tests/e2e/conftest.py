"""The whole system that the console and the OpenAPI fuzzing share: one private stack (`local_stack`) for both
files instead of one each (a stack takes a minute to start and to stop on 2 cores). Neither kills a part of it;
each works in tenants of its own.

The stack also verifies the tokens of a loopback OpenID Connect provider, as configured in production
(JWT_JWKS_URL, JWT_ISSUER): the console offers the OIDC sign-in beside the dev one. Tokens signed with the shared
secret (`system_token`) carry that issuer too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest

from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.settings import ServiceSettings
from bss_testkit.oidc import OidcProvider, rsa_key
from bss_testkit.system import Stack, free_port, local_stack

OIDC_CLIENT = "ispbss-console"


@dataclass(frozen=True)
class System:
    stack: Stack
    oidc: OidcProvider

    def token(self, tenant: str, roles: Sequence[str], subject: str = "tests") -> str:
        """A token signed with the shared secret, as the dev sign-in issues them."""
        config = JwtConfig(ServiceSettings().jwt_secret, issuer=self.stack.env["JWT_ISSUER"])
        return issue_token(config, subject=subject, tenant_id=tenant, roles=list(roles))


@pytest.fixture(scope="session")
async def system() -> AsyncIterator[System]:
    gateway_port = free_port()
    with OidcProvider(
        rsa_key("console-key"),
        client_id=OIDC_CLIENT,
        redirect_uris=(f"http://127.0.0.1:{gateway_port}/console/",),
        users={},
    ) as provider:
        env = {
            "GATEWAY_PORT": str(gateway_port),
            "JWT_JWKS_URL": provider.jwks_url,
            "JWT_ISSUER": provider.url,
            "CONSOLE_OIDC_CLIENT_ID": OIDC_CLIENT,
        }
        async with local_stack(extra=env) as stack:
            yield System(stack, provider)
