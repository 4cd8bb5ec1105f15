"""Address blocks for outgoing letters, laid out as each country's post expects.

The Alexion seed asks for uniform address blocks on everything that leaves
the organisation. :func:`address_block` turns a relation's
:class:`~crm_procedures.model.relation.Address` (plus the lines naming the
addressee) into the lines of the block, following the national layout of the
destination:

====  ==========================================  ============================
code  layout of the last lines                    example
====  ==========================================  ============================
NL    ``1234 AB  PLACE`` (two spaces, capitals)   ``2514 GH  DEN HAAG``
BE    ``1000 Place``                              ``1000 Brussel``
DE    ``10115 Place``                             ``10115 Berlin``
PL    ``00-950 Place``                            ``00-950 Warszawa``
GB    ``PLACE`` then the postcode on its own line ``LONDON`` / ``SW1A 2AA``
====  ==========================================  ============================

Any other country gets ``postcode place``. A letter that crosses a border
ends with the destination country's name in capitals, in the sender's
language (``language``: ``en``, ``nl`` or ``pl``), as the Universal Postal
Union asks; a domestic letter has no country line.

Pure functions: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crm_procedures.errors import InvalidInput
from crm_procedures.model.relation import Address
from crm_procedures.policies.normalise import normalise_postcode

__all__ = ["ADDRESS_COUNTRIES", "address_block", "country_name"]

#: Countries whose national layout :func:`address_block` knows.
ADDRESS_COUNTRIES: frozenset[str] = frozenset({"NL", "BE", "DE", "PL", "GB"})

_COUNTRY_NAMES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "NL": "Netherlands",
        "BE": "Belgium",
        "DE": "Germany",
        "PL": "Poland",
        "GB": "United Kingdom",
        "FR": "France",
        "LU": "Luxembourg",
        "AT": "Austria",
        "CH": "Switzerland",
        "DK": "Denmark",
        "SE": "Sweden",
        "CZ": "Czechia",
        "ES": "Spain",
        "IT": "Italy",
        "IE": "Ireland",
        "US": "United States",
    },
    "nl": {
        "NL": "Nederland",
        "BE": "België",
        "DE": "Duitsland",
        "PL": "Polen",
        "GB": "Verenigd Koninkrijk",
        "FR": "Frankrijk",
        "LU": "Luxemburg",
        "AT": "Oostenrijk",
        "CH": "Zwitserland",
        "DK": "Denemarken",
        "SE": "Zweden",
        "CZ": "Tsjechië",
        "ES": "Spanje",
        "IT": "Italië",
        "IE": "Ierland",
        "US": "Verenigde Staten",
    },
    "pl": {
        "NL": "Holandia",
        "BE": "Belgia",
        "DE": "Niemcy",
        "PL": "Polska",
        "GB": "Wielka Brytania",
        "FR": "Francja",
        "LU": "Luksemburg",
        "AT": "Austria",
        "CH": "Szwajcaria",
        "DK": "Dania",
        "SE": "Szwecja",
        "CZ": "Czechy",
        "ES": "Hiszpania",
        "IT": "Włochy",
        "IE": "Irlandia",
        "US": "Stany Zjednoczone",
    },
}


def _country_code(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, "must be an ISO 3166 alpha-2 country code like 'NL'", value)
    code = value.strip().upper()
    if len(code) != 2 or not ("A" <= code[0] <= "Z" and "A" <= code[1] <= "Z"):
        raise InvalidInput(field, "must be an ISO 3166 alpha-2 country code like 'NL'", value)
    return code


def _language(value: Any) -> str:
    if value not in _COUNTRY_NAMES:
        allowed = ", ".join(sorted(_COUNTRY_NAMES))
        raise InvalidInput("language", f"must be one of {allowed}", value)
    return str(value)


def country_name(country: str, language: str = "en") -> str:
    """The country's name in ``language`` (``en``, ``nl``, ``pl``).

    A country without a stored name is named by its ISO code.

    Raises:
        InvalidInput: ``country`` is not a two-letter code or ``language`` is unknown.
    """
    code = _country_code("country", country)
    return _COUNTRY_NAMES[_language(language)].get(code, code)


def _place_lines(country: str, postcode: str, city: str) -> list[str]:
    if country == "NL":
        return [f"{postcode}  {city.upper()}".strip()]
    if country == "GB":
        return [line for line in (city.upper(), postcode) if line]
    return [f"{postcode} {city}".strip()]


def _one_line(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text", value)
    if any(ch in value for ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        raise InvalidInput(field, "must be one line", value)
    return " ".join(value.split())


def address_block(
    address: Address,
    *,
    addressee: Iterable[str] = (),
    sender_country: str = "NL",
    language: str = "en",
) -> list[str]:
    """The lines of the address block for a letter to ``address``.

    Args:
        address: the destination; its postcode is written in the national
            format (``normalise_postcode``), its place as the country's post
            expects (see the module's table).
        addressee: the lines above the street: the organisation's name, an
            attention line ("t.a.v. J. de Vries"), each one line of text.
            Empty lines are left out.
        sender_country: where the letter is posted; a different destination
            country adds the country line.
        language: the language of the country line: ``en``, ``nl`` or ``pl``.

    Raises:
        InvalidInput: a line is not one line of text, a country is not an
            ISO 3166 alpha-2 code, the postcode does not fit its country, or
            the language is unknown.
    """
    if not isinstance(address, Address):
        raise InvalidInput("address", "must be an Address", address)
    destination = _country_code("country", address.country)
    origin = _country_code("sender_country", sender_country)
    lang = _language(language)
    if isinstance(addressee, str):
        raise InvalidInput("addressee", "must be a list of lines, not one string", addressee)
    lines = [line for line in (_one_line("addressee", v) for v in addressee) if line]
    street = _one_line("street", address.street)
    if street:
        lines.append(street)
    postcode = normalise_postcode(address.postcode, destination)
    lines.extend(
        line
        for line in _place_lines(destination, postcode, _one_line("city", address.city))
        if line
    )
    if destination != origin:
        lines.append(_COUNTRY_NAMES[lang].get(destination, destination).upper())
    return lines
