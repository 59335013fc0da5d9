"""Money as integer minor units with an ISO 4217 currency.

Amounts of different currencies are never added: `Money.__add__` refuses, and reports group by currency.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict

# Active ISO 4217 codes with their minor-unit exponent (digits after the decimal point).
# Only codes whose exponent is not 2 are listed in _EXPONENTS; everything in _CODES has 2 otherwise.
_EXPONENTS: dict[str, int] = {
    "BHD": 3,
    "BIF": 0,
    "CLF": 4,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "UYW": 4,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}
_CODES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYI UYU UYW UZS VES VED VND VUV
    WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG""".split()  # noqa: SIM905
)


def _check_currency(code: str) -> str:
    if code not in _CODES:
        raise ValueError(f"{code!r} is not an active ISO 4217 currency code")
    return code


Currency = Annotated[str, AfterValidator(_check_currency)]
"""An ISO 4217 alphabetic code, upper case (e.g. "EUR")."""


_SCALE = {0: 1, 2: 100, 3: 1000, 4: 10000}


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point for `currency` (JPY 0, EUR 2, KWD 3)."""
    return _EXPONENTS.get(_check_currency(currency), 2)


def to_major(amount_minor: int, currency: str) -> float:
    """Minor units as a decimal number in major units, for display (e.g. 1999 EUR -> 19.99)."""
    return amount_minor / float(_SCALE[minor_unit_exponent(currency)])


class CurrencyMismatch(ValueError):
    """Raised when amounts of different currencies would be combined."""


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount_minor: int
    currency: Currency

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount_minor=self.amount_minor + other.amount_minor, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount_minor=self.amount_minor - other.amount_minor, currency=self.currency)

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(amount_minor=0, currency=currency)
