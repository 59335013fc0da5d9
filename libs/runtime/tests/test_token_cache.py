"""The cache of verified bearer tokens (bss_runtime.auth.TokenCache): bounded, never past a token's `exp`,
never past `JWT_CACHE_SECONDS`, and only the exact text of a token that passed is remembered."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from bss_runtime.auth import JwtConfig, Principal, TokenCache, authenticate, issue_token
from bss_runtime.settings import ServiceSettings
from bss_testkit.events import eventually

SECRET = "token-cache-test-secret-of-at-least-32-bytes"


def principal(n: int) -> Principal:
    return Principal(subject=f"u{n}", tenant_id="isp-a", roles=frozenset({"admin"}))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lasts_until_its_expiry_or_the_cache_seconds_whichever_is_first() -> None:
    clock = Clock()
    cache = TokenCache(size=10, seconds=60, clock=clock)
    cache.put("short", principal(1), expires_at=clock.now + 5)  # expires before the cache's 60 s
    cache.put("long", principal(2), expires_at=clock.now + 3600)
    assert cache.get("short") == principal(1) and cache.get("long") == principal(2)
    clock.now += 5
    assert cache.get("short") is None  # at its exp: gone
    assert cache.get("long") == principal(2)
    clock.now += 55
    assert cache.get("long") is None  # 60 s after verification: verified again
    assert len(cache) == 0


def test_the_cache_is_bounded_and_forgets_the_oldest_first() -> None:
    clock = Clock()
    cache = TokenCache(size=2, seconds=60, clock=clock)
    for n in range(3):
        cache.put(f"t{n}", principal(n), expires_at=clock.now + 600)
    assert len(cache) == 2
    assert cache.get("t0") is None
    assert (cache.get("t1"), cache.get("t2")) == (principal(1), principal(2))
    disabled = TokenCache(size=0, seconds=60, clock=clock)
    disabled.put("t", principal(0), expires_at=clock.now + 600)
    assert disabled.get("t") is None and len(disabled) == 0


def test_settings_build_the_cache_and_zero_turns_it_off() -> None:
    assert JwtConfig.from_settings(ServiceSettings(jwt_secret=SECRET)).cache is not None
    assert JwtConfig.from_settings(ServiceSettings(jwt_secret=SECRET, jwt_cache_size=0)).cache is None


async def test_authenticate_remembers_a_good_token_but_not_a_forged_one_and_not_past_its_expiry() -> None:
    cache = TokenCache(size=16, seconds=60)
    config = JwtConfig(SECRET, cache=cache)
    token = issue_token(config, subject="ada", tenant_id="isp-a", roles=["support"], ttl=timedelta(seconds=2))
    who = await authenticate(config, token)
    assert (who.subject, who.tenant_id, who.roles) == ("ada", "isp-a", frozenset({"support"}))
    assert cache.get(token) == who and await authenticate(config, token) == who

    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"  # same claims, another signature: verified, refused
    with pytest.raises(jwt.InvalidSignatureError):
        await authenticate(config, forged)
    other = issue_token(JwtConfig("another-secret-that-is-at-least-32-bytes"), subject="ada", tenant_id="isp-b",
                        roles=["admin"])  # fmt: skip
    with pytest.raises(jwt.InvalidSignatureError):
        await authenticate(config, other)
    assert len(cache) == 1

    await eventually(lambda: cache.get(token) is None, timeout=5, interval=0.1)  # the entry ends at its exp
    with pytest.raises(jwt.ExpiredSignatureError):
        await authenticate(config, token)
