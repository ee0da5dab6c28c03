"""Money of the ledger: Decimal in the event's currency, rounded once, half-even, to the
currency's ISO 4217 minor unit. Amounts in different currencies are never added together
and never converted."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

# ISO 4217 minor units that are not 2 (every other active code has 2).
_ZERO_DECIMALS: Final = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()  # noqa: SIM905 - a table of codes reads better
)
_THREE_DECIMALS: Final = frozenset("BHD IQD JOD KWD LYD OMR TND".split())  # noqa: SIM905
_FOUR_DECIMALS: Final = frozenset({"CLF", "UYW"})
_TWO_DECIMALS: Final = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP
    LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UZS VES WST XCD YER ZAR ZMW
    ZWG""".split()  # noqa: SIM905
)


class UnknownCurrency(ValueError):
    """A currency code that is not an active ISO 4217 code: its minor unit is unknown."""

    def __init__(self, currency: str) -> None:
        super().__init__(f"unknown currency {currency!r}: not an active ISO 4217 code")
        self.currency = currency


def minor_unit(currency: str) -> int:
    """Digits after the decimal point for `currency` (JPY 0, USD 2, BHD 3)."""
    if currency in _TWO_DECIMALS:
        return 2
    if currency in _ZERO_DECIMALS:
        return 0
    if currency in _THREE_DECIMALS:
        return 3
    if currency in _FOUR_DECIMALS:
        return 4
    raise UnknownCurrency(currency)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The one rounding of the ledger: half-even to the minor unit, done once per entry."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_EVEN)


def is_rounded(amount: Decimal, currency: str) -> bool:
    """Whether `amount` already has no digits beyond the currency's minor unit."""
    return round_money(amount, currency) == amount


def annual(mrr: Decimal) -> Decimal:
    """ARR from MRR: twelve months, exact (no rounding here)."""
    return mrr * 12
