"""Pure rules: the subscriber lifecycle and the customer field checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.networks import validate_email

from customers.domain import fields
from customers.domain.lifecycle import Action, Outcome, Status, decide

P, A, S, T = Status.PENDING, Status.ACTIVE, Status.SUSPENDED, Status.TERMINATED

# (status, action) -> (outcome, status after)
LIFECYCLE = {
    (P, Action.ACTIVATE): (Outcome.CHANGED, A),
    (P, Action.SUSPEND): (Outcome.REJECTED, P),
    (P, Action.REINSTATE): (Outcome.REJECTED, P),
    (P, Action.TERMINATE): (Outcome.CHANGED, T),
    (A, Action.ACTIVATE): (Outcome.NO_OP, A),
    (A, Action.SUSPEND): (Outcome.CHANGED, S),
    (A, Action.REINSTATE): (Outcome.NO_OP, A),
    (A, Action.TERMINATE): (Outcome.CHANGED, T),
    (S, Action.ACTIVATE): (Outcome.REJECTED, S),
    (S, Action.SUSPEND): (Outcome.NO_OP, S),
    (S, Action.REINSTATE): (Outcome.CHANGED, A),
    (S, Action.TERMINATE): (Outcome.CHANGED, T),
    (T, Action.ACTIVATE): (Outcome.REJECTED, T),
    (T, Action.SUSPEND): (Outcome.REJECTED, T),
    (T, Action.REINSTATE): (Outcome.REJECTED, T),
    (T, Action.TERMINATE): (Outcome.NO_OP, T),
}


def test_the_lifecycle_table_covers_every_status_and_action():
    assert set(LIFECYCLE) == {(s, a) for s in Status for a in Action}


@pytest.mark.parametrize(("current", "action"), list(LIFECYCLE))
def test_lifecycle(current, action):
    decision = decide(current, action)
    assert (decision.outcome, decision.status, decision.previous) == (*LIFECYCLE[current, action], current)
    if decision.outcome is Outcome.REJECTED:
        assert decision.reason == f"cannot {action.value} a {current.value} subscriber"
    else:
        assert decision.reason is None


def test_country_codes_are_checked_against_iso_3166_1():
    assert fields.country_code(" de ") == "DE"
    assert fields.country_code("gb") == "GB"
    for bad in ("UK", "XX", "DEU", "", "D"):
        with pytest.raises(ValueError, match="ISO 3166-1 alpha-2"):
            fields.country_code(bad)


def test_ipv4_addresses():
    assert fields.ipv4_address("192.0.2.1") == "192.0.2.1"
    for bad in ("192.0.2.256", "192.0.2", "192.0.2.1/32", "01.2.3.4", "2001:db8::1", "host"):
        with pytest.raises(ValueError, match="not an IPv4 address"):
            fields.ipv4_address(bad)


def test_ipv6_prefixes_need_a_length_and_no_host_bits():
    assert fields.ipv6_prefix("2001:0DB8:0000:1200::/56") == "2001:db8:0:1200::/56"
    assert fields.ipv6_prefix("2001:db8::/32") == "2001:db8::/32"
    for bad, why in (
        ("2001:db8::1/56", "host bits set"),
        ("2001:db8::", "prefix length"),
        ("2001:db8::/129", "not an IPv6 prefix"),
        ("10.0.0.0/8", "not an IPv6 prefix"),
    ):
        with pytest.raises(ValueError, match=why):
            fields.ipv6_prefix(bad)


def test_coordinates_ranges():
    assert fields.latitude(-90.0) == -90.0 and fields.longitude(180.0) == 180.0
    for bad in (-90.0001, 90.5, float("nan")):
        with pytest.raises(ValueError, match=r"outside -90\.\.90"):
            fields.latitude(bad)
    with pytest.raises(ValueError, match=r"outside -180\.\.180"):
        fields.longitude(-180.5)


def test_mac_addresses_in_any_common_notation():
    for text in ("AA:BB:CC:00:11:22", "aa-bb-cc-00-11-22", "aabbcc001122", "aabb.cc00.1122"):
        assert fields.mac_address(text) == "aa:bb:cc:00:11:22"
    for bad in ("aa:bb:cc:00:11", "aa:bb-cc:00:11:22", "gg:bb:cc:00:11:22"):
        with pytest.raises(ValueError, match="not a MAC address"):
            fields.mac_address(bad)


def test_phone_numbers_time_zones_and_tags():
    assert fields.phone_number(" +49 (30) 1234-567 ") == "+49 (30) 1234-567"
    for bad in ("123", "+49 30 abc", "1234567890123456"):
        with pytest.raises(ValueError, match="not a phone number"):
            fields.phone_number(bad)
    assert fields.time_zone("America/Sao_Paulo") == "America/Sao_Paulo"
    with pytest.raises(ValueError, match="IANA"):
        fields.time_zone("Europe/Atlantis")
    assert fields.tags([" vip", "vip", "", "fiber "]) == ["vip", "fiber"]


# --- e-mail addresses: the fast path gives exactly what pydantic's EmailStr gives ---------------------------------

LABEL_PARTS = ["a", "Z", "0", "-", "--", "xn--", "mail", "EXAMPLE", "x" * 63, "_", "é"]
TLDS = ["com", "DE", "local", "localhost", "test", "arpa", "onion", "invalid", "c", "123", "co-uk", "xn--p1ai"]
TLDS += ["x" * 64]
LOCAL_PARTS = ["john", "J", ".", "..", "+", "%", "-", "_", "!", "#", "'", '"', " ", "é", "x" * 64, "9"]


def _address(local: list[str], labels: list[list[str]], tld: str, around: str) -> str:
    domain = ".".join("".join(label) for label in labels)
    return f"{around}{''.join(local)}@{domain}{'.' if domain else ''}{tld}{around}"


def _outcome(rule: Callable[[str], str], value: str) -> tuple[str, str]:
    try:
        return "ok", rule(value)
    except ValueError as exc:
        return "error", str(exc)


def _email_str(value: str) -> str:
    return validate_email(value)[1]


@settings(max_examples=3000, deadline=None)
@given(
    local=st.lists(st.sampled_from(LOCAL_PARTS), min_size=0, max_size=4),
    labels=st.lists(st.lists(st.sampled_from(LABEL_PARTS), min_size=0, max_size=3), max_size=3),
    tld=st.sampled_from(TLDS),
    around=st.sampled_from(["", " "]),
)
def test_an_email_address_is_checked_and_normalised_exactly_as_email_str_does(
    local: list[str], labels: list[list[str]], tld: str, around: str
) -> None:
    value = _address(local, labels, tld, around)
    assert _outcome(fields.email_address, value) == _outcome(_email_str, value)


@pytest.mark.parametrize(
    ("value", "fast"),
    [
        ("john.doe@mail.example.com", True),
        ("J.Doe+news@Mail.Example.COM", True),  # the domain lower-cased, the local part kept
        ("a_b%c-d@x-y.co", True),
        ("anna@xn--mnchen-3ya.de", False),  # Punycode: email-validator decodes it
        ("anna@münchen.de", False),
        ("bob@printer.local", False),  # special-use: email-validator refuses it with its reason
        ('"quoted"@example.com', False),
        ("Bob <bob@example.com>", False),
    ],
)
def test_plain_addresses_take_the_fast_path(value: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _outcome(_email_str, value)
    calls: list[str] = []
    monkeypatch.setattr(fields, "validate_email", lambda v: (calls.append(v), validate_email(v))[1])
    assert _outcome(fields.email_address, value) == expected
    assert (not calls) == fast
