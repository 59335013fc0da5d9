"""Rules for single customer fields, as pure functions: each returns the normal form or raises ValueError.

The HTTP schemas attach them to fields, so a bad value answers 422 with the field's name and this reason.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import email_validator
import pycountry
from pydantic.networks import validate_email

_MAC = re.compile(r"^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$|^[0-9a-f]{12}$|^([0-9a-f]{4}\.){2}[0-9a-f]{4}$")
_PHONE = re.compile(r"^\+?[0-9 ().\-/]+$")
# A plain ASCII address: dot-atom local part of common characters, host names of letters, digits and inner hyphens,
# an alphabetic top-level domain. Every such address email-validator accepts as is, but for the domain's case.
_PLAIN_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


@cache
def _alpha2_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def email_address(value: str) -> str:
    """An e-mail address exactly as pydantic's `EmailStr` takes it (email-validator without the deliverability check:
    its normal form, or a ValueError with its reason), with a fast path: email-validator costs about 200 µs an
    address, most of a bulk import row. A plain ASCII address (`_PLAIN_EMAIL`, within the length limits, no `--`
    that could be Punycode, no special-use domain such as `.local`) is checked by the pattern alone and comes out
    as email-validator gives it, the domain in lower case; anything else goes to email-validator
    (tests/test_domain.py holds the two equal over generated addresses)."""
    plain = _PLAIN_EMAIL.fullmatch(value)
    if plain is not None and len(value) <= 254 and len(plain["local"]) <= 64 and "--" not in plain["domain"]:
        domain = plain["domain"].lower()
        if not any(domain == d or domain.endswith("." + d) for d in email_validator.SPECIAL_USE_DOMAIN_NAMES):
            return f"{plain['local']}@{domain}"
    return validate_email(value)[1]


def country_code(value: str) -> str:
    """An ISO 3166-1 alpha-2 country code (any case in, upper case out)."""
    code = value.strip().upper()
    if code not in _alpha2_codes():
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def ipv4_address(value: str) -> str:
    """One IPv4 address (no prefix length, no leading zeros)."""
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 address") from exc


def ipv6_prefix(value: str) -> str:
    """An IPv6 prefix with an explicit length and no host bits set, e.g. 2001:db8:1200::/56 (compressed out)."""
    text = value.strip()
    if "/" not in text:
        raise ValueError(f"{value!r} is not an IPv6 prefix: the prefix length (/NN) is missing")
    try:
        return str(ipaddress.IPv6Network(text, strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv6 prefix: {exc}") from exc


def latitude(value: float) -> float:
    if not -90.0 <= value <= 90.0:
        raise ValueError(f"latitude {value} is outside -90..90")
    return value


def longitude(value: float) -> float:
    if not -180.0 <= value <= 180.0:
        raise ValueError(f"longitude {value} is outside -180..180")
    return value


def mac_address(value: str) -> str:
    """A 48-bit MAC address in any common notation; out as lower-case colon-separated octets."""
    text = value.strip().lower()
    if not _MAC.match(text):
        raise ValueError(f"{value!r} is not a MAC address")
    digits = re.sub(r"[^0-9a-f]", "", text)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def time_zone(value: str) -> str:
    """An IANA time zone name, e.g. Europe/Berlin."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone") from exc
    return value


def phone_number(value: str) -> str:
    """Digits with the usual separators and an optional leading +; at least 5 and at most 15 digits (E.164)."""
    text = value.strip()
    digits = sum(ch.isdigit() for ch in text)
    if not _PHONE.match(text) or not 5 <= digits <= 15:
        raise ValueError(f"{value!r} is not a phone number")
    return text


def tags(values: list[str]) -> list[str]:
    """Trimmed, without blanks and duplicates, in the order given."""
    out: list[str] = []
    for value in values:
        tag = value.strip()
        if tag and tag not in out:
            out.append(tag)
    return out
