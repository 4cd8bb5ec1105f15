"""Address blocks per country (Alexion: uniform address blocks on outgoing letters)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput
from crm_procedures.model.relation import Address
from crm_procedures.policies.addresses import ADDRESS_COUNTRIES, address_block, country_name


def test_dutch_block_has_postcode_two_spaces_and_capital_place() -> None:
    address = Address(street="Lange Voorhout 9", postcode="2514ea", city="Den Haag", country="NL")
    assert address_block(address, addressee=["Molen B.V.", "t.a.v. J. de Vries"]) == [
        "Molen B.V.",
        "t.a.v. J. de Vries",
        "Lange Voorhout 9",
        "2514 EA  DEN HAAG",
    ]


def test_polish_block_from_the_netherlands_ends_with_the_country() -> None:
    address = Address(street="ul. Długa 5", postcode="00950", city="Warszawa", country="PL")
    assert address_block(address, addressee=["Młyn sp. z o.o."], sender_country="NL") == [
        "Młyn sp. z o.o.",
        "ul. Długa 5",
        "00-950 Warszawa",
        "POLAND",
    ]


def test_country_line_is_in_the_senders_language() -> None:
    address = Address(street="Rue Haute 1", postcode="1000", city="Bruxelles", country="BE")
    assert address_block(address, language="nl")[-1] == "BELGIË"
    assert address_block(address, language="pl", sender_country="PL")[-1] == "BELGIA"
    assert address_block(address, sender_country="BE")[-1] == "1000 Bruxelles"


def test_british_block_puts_the_postcode_on_its_own_line() -> None:
    address = Address(street="10 Downing Street", postcode="sw1a 2aa", city="London", country="GB")
    assert address_block(address, sender_country="GB") == [
        "10 Downing Street",
        "LONDON",
        "SW1A 2AA",
    ]


def test_german_block_from_poland() -> None:
    address = Address(street="Unter den Linden 77", postcode="10117", city="Berlin", country="DE")
    assert address_block(address, sender_country="PL", language="pl") == [
        "Unter den Linden 77",
        "10117 Berlin",
        "NIEMCY",
    ]


def test_unknown_country_is_named_by_its_code() -> None:
    address = Address(street="Main St 1", postcode="12345", city="Springfield", country="ZZ")
    assert address_block(address)[-2:] == ["12345 Springfield", "ZZ"]
    assert country_name("zz") == "ZZ"
    assert country_name("de", "nl") == "Duitsland"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"addressee": ["Molen\nB.V."]}, "addressee"),
        ({"addressee": "Molen B.V."}, "addressee"),
        ({"sender_country": "Nederland"}, "sender_country"),
        ({"language": "de"}, "language"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], field: str) -> None:
    address = Address(street="Kerkstraat 1", postcode="1234 AB", city="Ede", country="NL")
    with pytest.raises(InvalidInput) as refused:
        address_block(address, **kwargs)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_postcode_that_does_not_fit_its_country_is_refused() -> None:
    address = Address(street="Kerkstraat 1", postcode="12345", city="Ede", country="NL")
    with pytest.raises(InvalidInput) as refused:
        address_block(address)
    assert refused.value.field == "postcode"


def test_a_country_that_is_not_a_code_is_refused() -> None:
    address = Address(street="Kerkstraat 1", postcode="1234 AB", city="Ede", country="Holland")
    with pytest.raises(InvalidInput) as refused:
        address_block(address)
    assert refused.value.field == "country"


_line = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40)


@given(
    street=_line,
    city=_line,
    country=st.sampled_from(sorted(ADDRESS_COUNTRIES)),
    sender=st.sampled_from(sorted(ADDRESS_COUNTRIES)),
    addressee=st.lists(_line, max_size=3),
)
def test_every_block_is_non_empty_single_lines_with_a_country_line_only_abroad(
    street: str, city: str, country: str, sender: str, addressee: list[str]
) -> None:
    postcode = {"NL": "1234 AB", "BE": "1000", "DE": "10115", "PL": "00-950", "GB": "SW1A 2AA"}
    address = Address(
        street=street.strip(), postcode=postcode[country], city=city.strip(), country=country
    )
    lines = address_block(address, addressee=addressee, sender_country=sender)
    assert all(line and line == line.strip() and "\n" not in line for line in lines)
    assert (lines[-1] == country_name(country).upper()) == (country != sender)
    assert any(postcode[country] in line for line in lines)
