"""A stand-in OpenID Connect provider for tests: signing keys made in the test, and their JWK set served over
real HTTP from a loopback server, which the test can rotate, slow down or break while services use it."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "http://127.0.0.1/realms/isp"  # what tests set as JWT_ISSUER
AUDIENCE = "ispbss"


@dataclass(frozen=True)
class SigningKey:
    """A provider's private key; `jwk()` is its public half as published, `sign()` makes a token with it."""

    kid: str
    algorithm: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data: dict[str, Any] = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        return data | {"kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = "own") -> str:
        headers = {"kid": self.kid if kid == "own" else kid} if kid is not None else {}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers or None)


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def claims(
    *,
    tenant: str = "isp-oidc",
    roles: list[str] | None = None,
    subject: str = "user-oidc",
    issuer: str = ISSUER,
    audience: str | list[str] = AUDIENCE,
    ttl: timedelta = timedelta(minutes=5),
    **extra: Any,
) -> dict[str, Any]:
    """Access-token claims as a provider issues them (tenant and roles at the default claim names)."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {"sub": subject, "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl}
    body |= {"tenant_id": tenant, "roles": roles if roles is not None else ["admin"]}
    return body | extra


class JwksServer:
    """`GET /jwks` answers the published key set (or `status` when broken, after `delay` seconds)."""

    def __init__(self, *keys: SigningKey) -> None:
        self.document: dict[str, Any] = {"keys": [k.jwk() for k in keys]}
        self.status = 200
        self.delay = 0.0
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.delay:
                    time.sleep(server.delay)
                body = json.dumps(server.document).encode() if server.status == 200 else b"unavailable"
                try:
                    self.send_response(server.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/jwks"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def publish(self, *keys: SigningKey) -> None:
        """Rotate: from now on the provider publishes exactly `keys`."""
        self.document = {"keys": [k.jwk() for k in keys]}

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()
