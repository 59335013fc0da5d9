"""The local-mode dev sign-in: a token for a chosen tenant and role in local/dev/test, 404 in production."""

from __future__ import annotations

import httpx

from bss_runtime.auth import JwtConfig, decode_token
from customers.config import Settings
from customers.entrypoints.app import create_app

from .support import Running


async def test_dev_token_signs_in_for_the_chosen_tenant_and_role(service: Running, tenant: str) -> None:
    answer = await service.client.post("/dev/token", json={"tenant_id": tenant, "role": "support"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    s = service.settings
    principal = decode_token(JwtConfig(s.jwt_secret, s.jwt_issuer, s.jwt_audience), body["access_token"])
    assert principal.tenant_id == tenant
    assert set(principal.roles) == {"support"}
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    created = await service.client.post("/customers", json={"name": "Dev", "email": "dev@example.com"}, headers=headers)
    assert created.status_code == 201, created.text
    listed = await service.client.get("/customers", headers=headers)
    assert [c["email"] for c in listed.json()["items"]] == ["dev@example.com"]


async def test_dev_token_names_the_bad_field(service: Running) -> None:
    answer = await service.client.post("/dev/token", json={"tenant_id": "t", "role": "emperor"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "role"]
    answer = await service.client.post("/dev/token", json={"tenant_id": "", "role": "admin"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "tenant_id"]


async def test_dev_token_does_not_exist_outside_local_mode() -> None:
    settings = Settings(environment="production", jwt_secret="s" * 48)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://customers") as client:
        answer = await client.post("/dev/token", json={"tenant_id": "isp-a", "role": "admin"})
    assert answer.status_code == 404
    assert not any(getattr(route, "path", "").startswith("/dev") for route in app.routes)
