"""Money: a ``Decimal`` amount with an ISO 4217 currency. Never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import decimal_amount

__all__ = ["CURRENCIES", "Money"]

# ISO 4217 active alphabetic codes.
CURRENCIES: frozenset[str] = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XCD",
        "XCG",
        "XDR",
        "XOF",
        "XPD",
        "XPF",
        "XPT",
        "XSU",
        "XTS",
        "XUA",
        "XXX",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
        "ZWL",
    ]
)


def _amount(value: Any) -> Decimal:
    return decimal_amount("amount", value)


def _currency(_inst: Any, _attr: Any, value: Any) -> None:
    if not isinstance(value, str) or value not in CURRENCIES:
        raise InvalidInput(
            "currency", f"{value!r} is not an ISO 4217 currency code (e.g. 'EUR', 'PLN')", value
        )


@attrs.frozen(order=False)
class Money:
    """An amount of money in one currency.

    ``Money(Decimal("12.50"), "EUR")``. Raises :class:`InvalidInput` for a float
    amount, a non-finite amount or an unknown currency code. Negative amounts are
    allowed here (a refund is money too); fields that must not be negative say so.
    """

    amount: Decimal = attrs.field(converter=_amount)
    currency: str = attrs.field(validator=_currency)

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise InvalidInput(
                "currency", f"cannot add {other.currency} to {self.currency}", other.currency
            )
        return Money(self.amount + other.amount, self.currency)

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, (int, Decimal)):
            return NotImplemented
        return Money(self.amount * factor, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    @property
    def is_negative(self) -> bool:
        """True when the amount is below zero."""
        return self.amount < 0


def non_negative_money(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: optional Money that is not negative."""
    if value is None:
        return
    if not isinstance(value, Money):
        raise InvalidInput(attribute.name, "must be Money (Decimal amount and currency)", value)
    if value.is_negative:
        raise InvalidInput(attribute.name, "must not be negative", str(value))
