"""The signing keys of an OpenID Connect provider, fetched from its JWKS URL and cached, rotation included.

What happens to every lookup (`await key_set.key(kid)`):
- The key set is fetched on first use and again once it is older than `cache_seconds`.
- A `kid` the cached set does not hold triggers one refetch, so a key the provider has just rotated in is
  picked up without a restart. Fetches are at most one per `min_refresh_seconds` (whatever the reason), so a
  stream of tokens with made-up `kid`s cannot turn the service into a load generator against the provider;
  concurrent lookups share one fetch.
- A fetch that fails (provider down, timeout after `timeout_seconds`, not JSON, no usable key) is logged and the
  keys already cached stay in use; a `kid` nobody knows is answered with `None` (the caller refuses the token:
  401), never an exception.
- Only asymmetric signing keys are kept (RSA, EC, as RS*/PS*/ES*): a symmetric (`oct`) key, an encryption key
  (`use: enc`) or a key whose `alg` does not fit its type is ignored. The algorithm a token is verified with
  comes from the key, never from the token's header, so `alg: none` or an HS256 token "signed" with a public
  key cannot pass (RFC 8725 §3.1, §2.1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


@dataclass(frozen=True)
class SigningKey:
    kid: str | None
    algorithm: str
    key: Any  # the cryptography public key object PyJWT verifies with


def parse_key_set(document: Any) -> dict[str | None, SigningKey]:
    """The usable signing keys of a JWKS document (RFC 7517 §5), by `kid`; unusable keys are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set: no 'keys' list")
    keys: dict[str | None, SigningKey] = {}
    for data in document["keys"]:
        key = _signing_key(data)
        if key is not None:
            keys[key.kid] = key
    return keys


def _signing_key(data: Any) -> SigningKey | None:
    if not isinstance(data, dict) or data.get("use", "sig") != "sig":
        return None
    kty = data.get("kty")
    try:
        jwk = jwt.PyJWK(data)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
        log.warning("JWKS key skipped", extra={"kid": data.get("kid"), "reason": str(exc)})
        return None
    algorithm = jwk.algorithm_name
    if algorithm not in ASYMMETRIC_ALGORITHMS or _KEY_TYPE[algorithm[:2]] != kty:
        log.warning("JWKS key skipped", extra={"kid": data.get("kid"), "reason": f"{kty}/{algorithm} not allowed"})
        return None
    kid = data.get("kid")
    return SigningKey(kid=str(kid) if kid is not None else None, algorithm=algorithm, key=jwk.key)


class JwksKeySet:
    """The provider's key set at `url`, cached (see the module's docstring for the rules)."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 10.0,
        timeout_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.timeout_seconds = timeout_seconds
        self._clock = clock
        self._keys: dict[str | None, SigningKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._lock: asyncio.Lock | None = None
        self.fetches = 0  # attempts, for tests and metrics

    async def key(self, kid: str | None) -> SigningKey | None:
        """The key a token with header `kid` is verified with, or None if the provider does not (or no longer)
        publish it. A token without `kid` is matched only when the set holds exactly one key."""
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self.cache_seconds:
            await self._refresh()
        found = self._find(kid)
        if found is None:
            await self._refresh()
            found = self._find(kid)
        return found

    def _find(self, kid: str | None) -> SigningKey | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self.min_refresh_seconds:
                return  # fetched a moment ago (perhaps by the lookup this one waited for)
            self._attempted_at = now
            self.fetches += 1
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning(
                    "JWKS fetch failed; the cached keys stay in use", extra={"url": self.url, "error": str(exc)}
                )
                return
            self._keys, self._fetched_at = keys, self._clock()
            log.info("JWKS fetched", extra={"url": self.url, "kids": sorted(str(k) for k in keys)})

    async def _fetch(self) -> dict[str | None, SigningKey]:
        timeout = httpx.Timeout(self.timeout_seconds)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            keys = parse_key_set(response.json())
        if not keys:
            raise ValueError("the JWK set holds no usable signing key")
        return keys
