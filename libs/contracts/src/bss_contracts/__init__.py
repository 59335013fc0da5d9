"""Event contracts of the ISP BSS: envelope, payload models, money, topic registry."""

from bss_contracts.envelope import DomainEvent, Envelope, RawEnvelope
from bss_contracts.money import Currency, CurrencyMismatch, Money, minor_unit_exponent, to_major

__all__ = [
    "Currency",
    "CurrencyMismatch",
    "DomainEvent",
    "Envelope",
    "Money",
    "RawEnvelope",
    "minor_unit_exponent",
    "to_major",
]
