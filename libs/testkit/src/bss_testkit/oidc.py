"""A stand-in OpenID Connect provider for tests: signing keys made in the test, and their JWK set served over
real HTTP from a loopback server, which the test can rotate, slow down or break while services use it
(`JwksServer`); and a provider a browser signs in with, by the authorization code flow with PKCE
(`OidcProvider`: discovery, JWK set, authorize with a login form, token)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

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


@dataclass(frozen=True)
class OidcUser:
    """A user of the stand-in provider: the password it signs in with and the claims its tokens carry."""

    password: str
    tenant: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    username: str
    expires: float


def _b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


class OidcProvider:
    """A stand-in OpenID Connect provider for a browser sign-in: the authorization code flow with PKCE (RFC 7636,
    S256 only, public client, no client secret), served over real HTTP from a loopback server.

    - `GET /.well-known/openid-configuration`: issuer (= `url`), endpoints, `jwks_uri`;
    - `GET /jwks`: the signing key's public half;
    - `GET /authorize`: checks `client_id`, `redirect_uri` (one of `redirect_uris`), `response_type=code` and an
      S256 `code_challenge`, then shows a login form; `POST /authorize` checks the user's password and redirects
      to `redirect_uri?code=...&state=...` (a wrong password shows the form again);
    - `POST /token`: `grant_type=authorization_code` with the code (once, within a minute), the same
      `client_id` and `redirect_uri`, and the `code_verifier` whose SHA-256 is the challenge; answers an access
      token (audience `audience`, the user's `tenant_id` and `roles`) and an ID token, both signed with `key`.
      Anything else answers 400 `invalid_grant` / `invalid_request`.

    Discovery, the key set and the token endpoint answer any origin (CORS), as a provider does for the web origins
    of its browser clients. `token_requests` counts the token endpoint's answers by outcome."""

    def __init__(
        self,
        key: SigningKey,
        *,
        client_id: str,
        redirect_uris: tuple[str, ...] = (),
        users: dict[str, OidcUser],
        audience: str = AUDIENCE,
    ) -> None:
        self.key = key
        self.client_id = client_id
        self.redirect_uris = list(redirect_uris)
        self.users = users
        self.audience = audience
        self.token_requests: dict[str, int] = {}
        self._grants: dict[str, _Grant] = {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_OPTIONS(self) -> None:
                self._send(204, b"", "text/plain")

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif url.path == "/jwks":
                    self._json(200, {"keys": [provider.key.jwk()]})
                elif url.path == "/authorize":
                    self._authorize(dict(parse_qsl(url.query)), None)
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                path = urlsplit(self.path).path
                if path == "/authorize":
                    self._authorize(form, form)
                elif path == "/token":
                    status, body = provider.exchange(form)
                    self._json(status, body)
                else:
                    self._send(404, b"not found", "text/plain")

            def _authorize(self, params: dict[str, str], login: dict[str, str] | None) -> None:
                problem = provider.check_request(params)
                if problem:
                    self._send(400, f"invalid authorization request: {problem}".encode(), "text/plain")
                    return
                error = ""
                if login is not None:
                    user = provider.users.get(login.get("username", ""))
                    if user is not None and hmac.compare_digest(user.password, login.get("password", "")):
                        location = provider.grant(params, login["username"])
                        self.send_response(302)
                        self.send_header("Location", location)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    error = "<p class=error>Wrong username or password.</p>"
                hidden = "".join(
                    f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                    for k, v in params.items()
                    if k not in ("username", "password")
                )
                page = (
                    "<!doctype html><title>Sign in: test provider</title><h1>Test identity provider</h1>"
                    f'{error}<form method="post" action="/authorize">{hidden}'
                    '<label>Username <input name="username" autofocus></label> '
                    '<label>Password <input name="password" type="password"></label> '
                    '<button type="submit">Sign in</button></form>'
                )
                self._send(200, page.encode(), "text/html; charset=utf-8")

            def _json(self, status: int, body: dict[str, Any]) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Cache-Control", "no-store")
                    self.send_header("Access-Control-Allow-Origin", "*")
                    self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                    self.send_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"  # the issuer
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.key.algorithm],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid"],
        }

    def check_request(self, params: dict[str, str]) -> str | None:
        """What is wrong with an authorization request, or None."""
        if params.get("client_id") != self.client_id:
            return f"unknown client_id {params.get('client_id')!r}"
        if params.get("redirect_uri") not in self.redirect_uris:
            return f"redirect_uri {params.get('redirect_uri')!r} is not registered for the client"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) < 43:
            return "a code_challenge with code_challenge_method=S256 is required (PKCE)"
        return None

    def grant(self, params: dict[str, str], username: str) -> str:
        """A new code for the user: the redirect back to the client."""
        code = secrets.token_urlsafe(24)
        self._grants[code] = _Grant(
            params["client_id"], params["redirect_uri"], params["code_challenge"], username, time.monotonic() + 60
        )
        query = urlencode({"code": code} | ({"state": params["state"]} if "state" in params else {}))
        return f"{params['redirect_uri']}?{query}"

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status, body = self._exchange(form)
        outcome = "issued" if status == 200 else str(body.get("error"))
        self.token_requests[outcome] = self.token_requests.get(outcome, 0) + 1
        return status, body

    def _exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self._grants.pop(form.get("code", ""), None)  # a code is used once, whatever the outcome
        if grant is None or grant.expires < time.monotonic():
            return 400, {"error": "invalid_grant", "error_description": "unknown, used or expired code"}
        if form.get("client_id") != grant.client_id or form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "client_id or redirect_uri differ"}
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(_b64url_sha256(verifier), grant.challenge):
            return 400, {"error": "invalid_grant", "error_description": "code_verifier does not match (PKCE)"}
        user = self.users[grant.username]
        access = claims(
            tenant=user.tenant,
            roles=list(user.roles),
            subject=grant.username,
            issuer=self.url,
            audience=self.audience,
            ttl=timedelta(minutes=15),
            azp=self.client_id,
            scope="openid",
        )
        now = datetime.now(UTC)
        id_claims = {"iss": self.url, "sub": grant.username, "aud": self.client_id, "iat": now}
        return 200, {
            "access_token": self.key.sign(access),
            "token_type": "Bearer",
            "expires_in": 900,
            "scope": "openid",
            "id_token": self.key.sign(id_claims | {"exp": now + timedelta(minutes=15)}),
        }

    def __enter__(self) -> OidcProvider:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()
